"""Send rubric prompts to a backend with caching, bounded concurrency, retries and reply repair."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from culturebench.judges.backend import (
    BACKEND_ERROR,
    INVALID_JSON,
    OUTPUT_TRUNCATED,
    RATE_LIMITED,
    RETRY_BUDGET_EXHAUSTED,
    Backend,
    BackendError,
    ChatReply,
    ChatRequest,
    Message,
)
from culturebench.judges.cache import ResponseCache, cache_key
from culturebench.judges.retry import Backoff, RetryBudget
from culturebench.judges.rubrics import REPAIR_PROMPT, ReplyFormatError, Rubric, parse_reply

logger = logging.getLogger(__name__)

# A thinking model that used the whole output limit is retried once with twice the limit, up to this.
MAX_ESCALATED_TOKENS = 8192


@dataclass
class Usage:
    """Calls and tokens behind one verdict. `billed_*` counts only calls made now, not cache hits."""

    requests: int = 0
    cached_calls: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    billed_input_tokens: int = 0
    billed_output_tokens: int = 0

    def add_reply(self, reply: ChatReply, cached: bool) -> None:
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        self.thinking_tokens += reply.thinking_tokens
        if cached:
            self.cached_calls += 1
        else:
            self.billed_input_tokens += reply.input_tokens
            self.billed_output_tokens += reply.output_tokens


@dataclass
class Verdict:
    """The parsed verdict for one prompt, or why there is none (`value` is None then)."""

    ok: bool
    value: Any = None
    failure_reason: str | None = None
    failure_detail: str = ""
    repaired: bool = False
    usage: Usage = field(default_factory=Usage)


class CallFailed(Exception):
    """A call that ended without a reply, after any retries."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class JudgeClient:
    """Judges prompts with one backend.

    Args:
        backend: the judge model's backend.
        cache: replies already paid for; None disables caching.
        concurrency: maximum number of requests in flight at once.
        max_retries: retries per request after a 429, 5xx, timeout or connection error.
        retry_budget: retries shared by all requests; when spent, failing requests end at once.
        backoff: wait policy between retries.
    """

    def __init__(
        self,
        backend: Backend,
        cache: ResponseCache | None = None,
        *,
        concurrency: int = 8,
        max_retries: int = 4,
        retry_budget: RetryBudget | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {max_retries}")
        self.backend = backend
        self.cache = cache
        self.max_retries = max_retries
        self.retry_budget = retry_budget or RetryBudget(None)
        self.backoff = backoff or Backoff()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._paused_until = 0.0
        self._in_flight: dict[str, asyncio.Future[ChatReply]] = {}

    async def judge(self, rubric: Rubric, system: str, user: str, context: Mapping[str, Any] | None = None,
                    max_tokens: int | None = None, parser: Callable[[str], Any] | None = None) -> Verdict:
        """Ask for a verdict; retry a reply truncated while thinking, repair one bad reply once.

        `parser` replaces the rubric's own parser (dataset generators use their own reply formats);
        it takes the reply text and raises `ReplyFormatError` for a reply that cannot be used.
        """
        context = context or {}
        usage = Usage()
        request = ChatRequest(
            system=system,
            messages=(Message("user", user),),
            max_tokens=max_tokens or self.backend.settings.max_tokens,
        )
        try:
            reply = await self._call(rubric, request, usage)
            if _spent_on_thinking(reply) and request.max_tokens * 2 <= MAX_ESCALATED_TOKENS:
                logger.info("judge reply cut at %d tokens with no text; retrying with %d",
                            request.max_tokens, request.max_tokens * 2)
                request = replace(request, max_tokens=request.max_tokens * 2)
                reply = await self._call(rubric, request, usage)
        except CallFailed as failure:
            return Verdict(False, failure_reason=failure.reason, failure_detail=failure.detail, usage=usage)

        verdict = _parse(rubric, reply, context, usage, parser)
        if verdict.ok or verdict.failure_reason != INVALID_JSON:
            return verdict

        repair = replace(
            request,
            messages=request.messages + (
                Message("assistant", reply.text),
                Message("user", REPAIR_PROMPT.format(error=verdict.failure_detail)),
            ),
        )
        try:
            repaired_reply = await self._call(rubric, repair, usage)
        except CallFailed as failure:
            return Verdict(False, failure_reason=failure.reason,
                           failure_detail=f"during the repair request: {failure.detail}", usage=usage)
        repaired = _parse(rubric, repaired_reply, context, usage, parser)
        repaired.repaired = True
        if not repaired.ok and repaired.failure_reason == INVALID_JSON:
            repaired.failure_detail = (
                f"first reply: {verdict.failure_detail}; after one repair request: {repaired.failure_detail}"
            )
        return repaired

    async def _call(self, rubric: Rubric, request: ChatRequest, usage: Usage) -> ChatReply:
        key = cache_key(self.backend.spec, rubric, request)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                usage.add_reply(cached, cached=True)
                return cached

        pending = self._in_flight.get(key)
        if pending is not None:
            # An identical prompt is already being paid for: share its reply.
            reply = await pending
            usage.add_reply(reply, cached=True)
            return reply

        future: asyncio.Future[ChatReply] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            async with self._semaphore:
                reply = await self._send_with_retries(request, usage)
        except BaseException as error:
            failure = error if isinstance(error, CallFailed) else CallFailed(
                BACKEND_ERROR, f"{type(error).__name__}: {error}"
            )
            future.set_exception(failure)
            future.exception()  # marks the exception retrieved when no duplicate waits on it
            raise
        finally:
            del self._in_flight[key]
        future.set_result(reply)
        if self.cache is not None:
            self.cache.put(key, self.backend.spec, rubric, request, reply)
        usage.add_reply(reply, cached=False)
        return reply

    async def _send_with_retries(self, request: ChatRequest, usage: Usage) -> ChatReply:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            pause = self._paused_until - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            usage.requests += 1
            try:
                return await self.backend.complete(request)
            except BackendError as error:
                if not error.retryable:
                    raise CallFailed(error.reason, str(error)) from error
                if attempt >= self.max_retries:
                    raise CallFailed(error.reason, f"{error}; gave up after {attempt + 1} attempts") from error
                if error.retry_after_s is not None and error.retry_after_s > self.backoff.max_retry_after_s:
                    raise CallFailed(
                        error.reason,
                        f"{error}; the server asked to wait {error.retry_after_s:.0f} s, "
                        f"more than the {self.backoff.max_retry_after_s:.0f} s limit",
                    ) from error
                if not self.retry_budget.take():
                    raise CallFailed(
                        RETRY_BUDGET_EXHAUSTED,
                        f"all {self.retry_budget.total} retries of this run are spent; last error: {error}",
                    ) from error

                delay = self.backoff.delay(attempt, error.retry_after_s)
                if error.reason == RATE_LIMITED:
                    # Every request waits out a rate limit, not just the one that hit it.
                    self._paused_until = max(self._paused_until, loop.time() + delay)
                logger.warning("judge %s: %s; retry %d of %d in %.2f s",
                               self.backend.spec.text, error, attempt + 1, self.max_retries, delay)
                usage.retries += 1
                attempt += 1
                await asyncio.sleep(delay)


def _spent_on_thinking(reply: ChatReply) -> bool:
    return reply.failure == OUTPUT_TRUNCATED and not reply.text.strip()


def _parse(rubric: Rubric, reply: ChatReply, context: Mapping[str, Any], usage: Usage,
           parser: Callable[[str], Any] | None = None) -> Verdict:
    if reply.failure is not None and reply.failure != OUTPUT_TRUNCATED:
        return Verdict(False, failure_reason=reply.failure, failure_detail=reply.detail, usage=usage)
    try:
        value = parser(reply.text) if parser is not None else parse_reply(rubric, reply.text, context)
    except ReplyFormatError as error:
        if reply.failure == OUTPUT_TRUNCATED:
            return Verdict(False, failure_reason=OUTPUT_TRUNCATED, failure_detail=reply.detail, usage=usage)
        return Verdict(False, failure_reason=INVALID_JSON, failure_detail=str(error), usage=usage)
    return Verdict(True, value=value, usage=usage)
