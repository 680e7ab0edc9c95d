"""The MCQ fallback judge: which option does a free-form answer commit to?"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from culturebench.judges.backends import build_backend
from culturebench.judges.cache import ResponseCache, default_cache_dir
from culturebench.judges.client import JudgeClient
from culturebench.judges.retry import Backoff, RetryBudget
from culturebench.judges.rubrics import OPTION, render_option
from culturebench.judges.spec import GenerationSettings, JudgeSpec, parse_spec

logger = logging.getLogger(__name__)

# Retries one fallback judge may spend over its lifetime (an lm-eval run calls it many times).
OPTION_RETRY_BUDGET = 200


class LLMOptionJudge:
    """Implements `culturebench.judging.OptionJudge` with an LLM judge and the option rubric.

    `pick_option` blocks; requests run on a private event loop in a daemon thread, so the judge
    works from plain code and from inside a running event loop alike. Replies are cached like
    open-ended verdicts, so a rerun of the same evaluation costs no calls. A failed call returns
    None (the task then counts an extraction failure) and is counted in `failures`.

    Args:
        spec: the judge spec.
        settings: token limit, temperature and timeout per request.
        cache_dir: reply cache folder; None means `default_cache_dir()`.
        use_cache: False sends every request.
        max_retries: retries per request after a 429, 5xx, timeout or connection error.
    """

    def __init__(
        self,
        spec: JudgeSpec,
        *,
        settings: GenerationSettings | None = None,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        max_retries: int = 4,
        backoff: Backoff | None = None,
    ) -> None:
        self.spec = spec
        self.failures: Counter[str] = Counter()
        self._backend = build_backend(spec, settings or GenerationSettings())
        self._cache = ResponseCache(cache_dir or default_cache_dir(), spec) if use_cache else None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"option-judge-{spec.model}", daemon=True)
        self._thread.start()
        self._client = self._run(self._make_client(max_retries, backoff))
        atexit.register(self.close)

    def pick_option(self, question: str, options: Sequence[str], answer: str) -> int | None:
        """Return the 0-based index of the option the answer commits to, or None."""
        if not options:
            raise ValueError("pick_option needs at least one option")
        system, user = render_option(question, options, answer)
        verdict = self._run(self._client.judge(OPTION, system, user, {"option_count": len(options)}))
        if not verdict.ok:
            self.failures[verdict.failure_reason or "unknown"] += 1
            logger.warning("option judge %s failed: %s (%s)", self.spec.text, verdict.failure_reason,
                           verdict.failure_detail)
            return None
        return verdict.value

    def close(self) -> None:
        """Close connections, flush the cache and stop the loop thread; safe to call twice."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._backend.aclose())
        finally:
            if self._cache is not None:
                self._cache.close()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _make_client(self, max_retries: int, backoff: Backoff | None) -> JudgeClient:
        # The client's semaphore must be created on the loop that will use it.
        return JudgeClient(
            self._backend,
            self._cache,
            concurrency=1,
            max_retries=max_retries,
            retry_budget=RetryBudget(OPTION_RETRY_BUDGET),
            backoff=backoff,
        )

    def _run(self, coroutine: Any) -> Any:
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()


def option_judge_from_spec(spec: str) -> LLMOptionJudge:
    """Build the MCQ fallback judge for a spec string such as `gemini:gemini-2.5-flash`.

    This is the factory to pass to `culturebench.judging.set_option_judge_factory`.
    """
    return LLMOptionJudge(parse_spec(spec))
