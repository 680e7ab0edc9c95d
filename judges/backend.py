"""The interface every judge backend implements: one chat request in, one reply or error out."""

from __future__ import annotations

import email.utils
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from culturebench.judges.spec import GenerationSettings, JudgeSpec

# Failure reasons recorded in results. Transient ones are retried by the client.
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
RETRY_BUDGET_EXHAUSTED = "retry_budget_exhausted"
QUOTA_EXHAUSTED = "quota_exhausted"
AUTH_ERROR = "auth_error"
NOT_FOUND = "not_found"
BAD_REQUEST = "bad_request"
SAFETY_BLOCK = "safety_block"
REFUSAL = "refusal"
EMPTY_RESPONSE = "empty_response"
OUTPUT_TRUNCATED = "output_truncated"
INVALID_JSON = "invalid_json"
MISSING_FIELDS = "missing_fields"
BACKEND_ERROR = "backend_error"


@dataclass(frozen=True)
class Message:
    """One chat turn; `role` is `user` or `assistant` (the system prompt travels separately)."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A system prompt, the conversation so far and the output token limit."""

    system: str
    messages: tuple[Message, ...]
    max_tokens: int
    json_output: bool = True

    def fingerprint_parts(self) -> list[str]:
        """Return everything that shapes the reply, in a fixed order, for hashing into a cache key."""
        parts = [self.system, str(self.max_tokens), str(self.json_output)]
        for message in self.messages:
            parts += [message.role, message.content]
        return parts


@dataclass
class ChatReply:
    """A backend's reply to one request.

    `failure` is set when the call succeeded at the HTTP level but produced no usable text
    (safety block, refusal, empty text, output cut at the token limit). Such replies are paid for,
    so they are cached like any other. `output_tokens` includes reasoning tokens, since providers
    bill them as output; `thinking_tokens` reports them separately.
    """

    text: str
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    failure: str | None = None
    detail: str = ""
    model_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ChatReply:
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in record.items() if key in known})


@dataclass
class BackendError(Exception):
    """A failed call: `reason` is one of the failure reasons above; transient ones are retried.

    `retry_after_s` is the wait the server asked for (Retry-After header or Gemini RetryInfo).
    """

    reason: str
    detail: str = ""
    retryable: bool = False
    retry_after_s: float | None = None
    status_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{self.reason}{code}: {self.detail}"


class Backend(Protocol):
    """A judge model reachable through one SDK."""

    spec: JudgeSpec
    settings: GenerationSettings

    async def complete(self, request: ChatRequest) -> ChatReply:
        """Send one request; raise BackendError on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections and models."""
        ...


def status_error(status: int, detail: str, retry_after_s: float | None = None) -> BackendError:
    """Map an HTTP error status to a BackendError with the standard reason and retry flag."""
    if status == 429:
        return BackendError(RATE_LIMITED, detail, True, retry_after_s, status)
    if status in (408, 504):
        return BackendError(TIMEOUT, detail, True, retry_after_s, status)
    if status >= 500:
        return BackendError(SERVER_ERROR, detail, True, retry_after_s, status)
    if status in (401, 403):
        return BackendError(AUTH_ERROR, detail, False, None, status)
    if status == 404:
        return BackendError(NOT_FOUND, detail, False, None, status)
    return BackendError(BAD_REQUEST, detail, False, None, status)


def parse_retry_after(headers: Any) -> float | None:
    """Return the wait in seconds from `retry-after-ms` or `Retry-After` (seconds or HTTP date)."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
