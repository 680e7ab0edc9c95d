"""Send builder prompts through the judge backends: the same SDKs, key rules, retries and reply cache."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from culturebench.builder.prompts import PromptTemplate
from culturebench.cache_paths import cache_dir
from culturebench.errors import CultureBenchError
from culturebench.judges.backend import BACKEND_ERROR, Backend
from culturebench.judges.backends import build_backend
from culturebench.judges.cache import ResponseCache
from culturebench.judges.client import JudgeClient, Usage, Verdict
from culturebench.judges.retry import Backoff, RetryBudget, default_retry_budget
from culturebench.judges.spec import GenerationSettings, JudgeSpec

logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the `builder` sub-folder of culturebench's cache folder (see `culturebench.cache_paths`)."""
    return cache_dir() / "builder"


@dataclass
class GeneratorConfig:
    """Request settings of the generator.

    Args:
        concurrency: maximum number of requests in flight at once.
        max_retries: retries per request after a 429, 5xx, timeout or connection error.
        retry_budget: retries shared by one stage's requests; None means a fifth of them, at least 20.
        settings: output token limit, temperature and timeout per request.
        backoff: wait policy between retries.
        cache_dir: reply cache folder; None means `default_cache_dir()`.
        use_cache: False sends every request and caches nothing, so a killed build starts over.
        progress: show a progress bar per stage on stderr.
    """

    concurrency: int = 8
    max_retries: int = 4
    retry_budget: int | None = None
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    backoff: Backoff = field(default_factory=Backoff)
    cache_dir: Path | None = None
    use_cache: bool = True
    progress: bool = True


@dataclass(frozen=True)
class PromptRequest:
    """One prompt to send: its template, the task input, extra template fields and the reply parser."""

    template: PromptTemplate
    task_input: dict[str, Any]
    fields: dict[str, Any]
    parser: Callable[[str], Any]


class Generator:
    """A generator model behind one judge spec (`openai:`, `gemini:`, `openai-compatible:`, `hf:`).

    The backend is built on first use, so a build whose stages are all reused needs no API key.
    """

    def __init__(self, spec: JudgeSpec, config: GeneratorConfig) -> None:
        self.spec = spec
        self.config = config
        self._backend: Backend | None = None
        self._cache: ResponseCache | None = None
        self._client: JudgeClient | None = None

    async def generate(self, requests: Sequence[PromptRequest], description: str) -> list[Verdict]:
        """Send the requests concurrently and return their verdicts in request order."""
        if not requests:
            return []
        client = self._ensure_client()
        total = self.config.retry_budget if self.config.retry_budget is not None else default_retry_budget(len(requests))
        client.retry_budget = RetryBudget(total)

        verdicts: list[Verdict | None] = [None] * len(requests)
        progress = tqdm(total=len(requests), desc=description, unit="request", disable=not self.config.progress)
        try:
            tasks = [asyncio.create_task(self._generate_one(client, index, request)) for index, request in enumerate(requests)]
            for finished in asyncio.as_completed(tasks):
                index, verdict = await finished
                verdicts[index] = verdict
                progress.update(1)
        finally:
            progress.close()
        return verdicts

    async def aclose(self) -> None:
        """Close the backend's connections and flush the cache."""
        try:
            if self._backend is not None:
                await self._backend.aclose()
        finally:
            if self._cache is not None:
                self._cache.close()

    def _ensure_client(self) -> JudgeClient:
        if self._client is None:
            self._backend = build_backend(self.spec, self.config.settings)
            if self.config.use_cache:
                self._cache = ResponseCache(self.config.cache_dir or default_cache_dir(), self.spec)
            self._client = JudgeClient(
                self._backend,
                self._cache,
                concurrency=self.config.concurrency,
                max_retries=self.config.max_retries,
                backoff=self.config.backoff,
            )
        return self._client

    async def _generate_one(self, client: JudgeClient, index: int, request: PromptRequest) -> tuple[int, Verdict]:
        system, user = request.template.render(request.task_input, **request.fields)
        try:
            return index, await client.judge(request.template.rubric, system, user, parser=request.parser)
        except CultureBenchError:
            raise
        except Exception as error:  # noqa: BLE001 - one request's unexpected SDK error must not lose a paid stage
            logger.exception("generator %s: %s request failed unexpectedly", self.spec.text, request.template.label)
            detail = f"{type(error).__name__}: {error}"
            return index, Verdict(False, failure_reason=BACKEND_ERROR, failure_detail=detail, usage=Usage())


def usage_totals(verdicts: Sequence[Verdict]) -> dict[str, int]:
    """Return the calls and tokens behind `verdicts`, for a stage report."""
    totals = {"requests": 0, "cached_calls": 0, "retries": 0, "input_tokens": 0, "output_tokens": 0, "repaired": 0}
    for verdict in verdicts:
        usage = verdict.usage
        totals["requests"] += usage.requests
        totals["cached_calls"] += usage.cached_calls
        totals["retries"] += usage.retries
        totals["input_tokens"] += usage.input_tokens
        totals["output_tokens"] += usage.output_tokens
        totals["repaired"] += int(verdict.repaired)
    return totals
