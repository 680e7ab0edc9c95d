"""Judge backend for Google Gemini through the official `google-genai` SDK."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from culturebench.errors import CultureBenchError
from culturebench.judges.backend import (
    CONNECTION_ERROR,
    EMPTY_RESPONSE,
    OUTPUT_TRUNCATED,
    SAFETY_BLOCK,
    TIMEOUT,
    BackendError,
    ChatReply,
    ChatRequest,
    parse_retry_after,
    status_error,
)
from culturebench.judges.spec import GenerationSettings, JudgeSpec

logger = logging.getLogger(__name__)

# The SDK sends through aiohttp when it is installed (an optional extra) and through httpx2 otherwise.
# NOTE: the tests run with aiohttp installed, so the httpx2 error mapping is untested.
_TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, httpx2.TimeoutException)
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (httpx2.TransportError, OSError)
try:
    import aiohttp
except ImportError:
    pass
else:
    _TIMEOUT_ERRORS += (aiohttp.ServerTimeoutError,)
    _CONNECTION_ERRORS += (aiohttp.ClientError,)

# Finish reasons that mean the provider withheld the output for policy reasons.
_BLOCKED_FINISH_REASONS = {
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "MODEL_ARMOR",
}
_DURATION = re.compile(r"^([0-9.]+)s$")


class GeminiBackend:
    """`generateContent` through `google.genai.Client(...).aio`, with the SDK's retries off.

    The key comes from GOOGLE_API_KEY or GEMINI_API_KEY (GOOGLE_API_KEY wins when both are set,
    as in the SDK). Thinking models spend output tokens on reasoning first. A reply that ends at
    MAX_TOKENS with no text is reported as `output_truncated`, and the judge client retries it
    once with a doubled limit.
    """

    def __init__(self, spec: JudgeSpec, settings: GenerationSettings) -> None:
        self.spec = spec
        self.settings = settings
        api_key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
        if not api_key:
            raise CultureBenchError(
                f"judge {spec.text} needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment"
            )
        self._api_key = api_key
        self._client: genai.Client | None = None

    @property
    def client(self) -> genai.Client:
        """The SDK client, made on first use so that a run served from the cache skips its TLS setup."""
        if self._client is None:
            http_options = types.HttpOptions(
                base_url=self.spec.base_url,
                timeout=int(self.settings.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            self._client = genai.Client(api_key=self._api_key, http_options=http_options)
        return self._client

    async def complete(self, request: ChatRequest) -> ChatReply:
        """Send one generateContent request; raise BackendError on HTTP, timeout or connection failures."""
        contents = [
            types.Content(role="model" if message.role == "assistant" else "user", parts=[types.Part(text=message.content)])
            for message in request.messages
        ]
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            max_output_tokens=request.max_tokens,
            temperature=self.settings.temperature,
            response_mime_type="application/json" if request.json_output else None,
            # The judge sends no tools; turning automatic function calling off skips its per-call log line.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        try:
            response = await self.client.aio.models.generate_content(
                model=self.spec.model, contents=contents, config=config
            )
        except genai_errors.APIError as error:
            raise _translate_api_error(error) from error
        except _TIMEOUT_ERRORS as error:
            raise BackendError(TIMEOUT, "the request timed out", retryable=True) from error
        except _CONNECTION_ERRORS as error:
            raise BackendError(CONNECTION_ERROR, f"{type(error).__name__}: {error}", retryable=True) from error
        return _reply_from(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()


def _translate_api_error(error: genai_errors.APIError) -> BackendError:
    headers = getattr(getattr(error, "response", None), "headers", None)
    retry_after = parse_retry_after(headers)
    if retry_after is None:
        retry_after = _retry_info_delay(error.details)
    message = str(error.message or error.status or "")[:500]
    return status_error(int(error.code or 0), message, retry_after)


def _retry_info_delay(details: Any) -> float | None:
    """Return the `google.rpc.RetryInfo` delay from an error body, if it has one."""
    if not isinstance(details, dict):
        return None
    body = details.get("error", details)
    for entry in body.get("details") or []:
        if isinstance(entry, dict) and entry.get("@type", "").endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(entry.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _reply_from(response: types.GenerateContentResponse) -> ChatReply:
    usage = response.usage_metadata
    thinking_tokens = (usage.thoughts_token_count or 0) if usage else 0
    reply = ChatReply(
        text="",
        input_tokens=(usage.prompt_token_count or 0) if usage else 0,
        output_tokens=((usage.candidates_token_count or 0) if usage else 0) + thinking_tokens,
        thinking_tokens=thinking_tokens,
        model_version=response.model_version,
    )

    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reply.failure = SAFETY_BLOCK
        reply.detail = f"prompt blocked: {_enum_name(feedback.block_reason)}"
        return reply
    if not response.candidates:
        reply.failure, reply.detail = EMPTY_RESPONSE, "the response has no candidates"
        return reply

    candidate = response.candidates[0]
    finish = _enum_name(candidate.finish_reason) if candidate.finish_reason is not None else None
    reply.finish_reason = finish
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    reply.text = "".join(part.text for part in parts if part.text and not part.thought)

    if finish in _BLOCKED_FINISH_REASONS:
        reply.failure, reply.detail = SAFETY_BLOCK, f"finish_reason {finish}"
    elif finish == "MAX_TOKENS":
        reply.failure = OUTPUT_TRUNCATED
        reply.detail = (
            f"output reached the token limit ({thinking_tokens} of {reply.output_tokens} tokens spent on thinking)"
        )
    elif not reply.text.strip():
        reply.failure, reply.detail = EMPTY_RESPONSE, f"empty text, finish_reason {finish}"
    return reply


def _enum_name(value: Any) -> str:
    return getattr(value, "value", None) or str(value)
