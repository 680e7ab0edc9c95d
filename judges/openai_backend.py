"""Judge backend for OpenAI and OpenAI-compatible servers (vLLM, llama.cpp server, Ollama)."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import openai

from culturebench.errors import CultureBenchError
from culturebench.judges.backend import (
    CONNECTION_ERROR,
    EMPTY_RESPONSE,
    OUTPUT_TRUNCATED,
    QUOTA_EXHAUSTED,
    REFUSAL,
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

# Reasoning models take `max_completion_tokens` and reject any temperature but the default.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
# Compatible servers rarely check keys; this placeholder keeps a real OpenAI key off them.
COMPATIBLE_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY"


class OpenAIBackend:
    """Chat completions through the official `openai` SDK, with the SDK's own retries turned off.

    Args:
        spec: `openai:MODEL` (key from OPENAI_API_KEY) or `openai-compatible:URL:MODEL` (key from
            OPENAI_COMPATIBLE_API_KEY when set; most local servers need none).
        settings: token limit, temperature and timeout.
    """

    def __init__(self, spec: JudgeSpec, settings: GenerationSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.compatible = spec.backend == "openai-compatible"
        self.send_temperature = self.compatible or not _REASONING_MODEL.match(spec.model)

        if self.compatible:
            api_key = os.environ.get(COMPATIBLE_KEY_ENV) or "not-needed"
        else:
            api_key = os.environ.get("OPENAI_API_KEY", "")
            if not api_key:
                raise CultureBenchError(
                    f"judge {spec.text} needs an API key: set OPENAI_API_KEY in the environment"
                )
        self._client_args: dict[str, Any] = {"api_key": api_key, "max_retries": 0, "timeout": settings.timeout_s}
        if spec.base_url:
            self._client_args["base_url"] = spec.base_url
        self._client: openai.AsyncOpenAI | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client, made on first use so that a run served from the cache skips its TLS setup."""
        if self._client is None:
            self._client = openai.AsyncOpenAI(**self._client_args)
        return self._client

    async def complete(self, request: ChatRequest) -> ChatReply:
        """Send one chat completion; raise BackendError on HTTP, timeout or connection failures."""
        try:
            completion = await self.client.chat.completions.create(**self._arguments(request))
        except openai.BadRequestError as error:
            if not (self.send_temperature and _rejects_temperature(error)):
                raise _translate(error) from error
            logger.info("%s rejects a temperature; resending without one", self.spec.text)
            self.send_temperature = False
            try:
                completion = await self.client.chat.completions.create(**self._arguments(request))
            except openai.OpenAIError as retry_error:
                raise _translate(retry_error) from retry_error
        except openai.OpenAIError as error:
            raise _translate(error) from error
        return _reply_from(completion)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    def _arguments(self, request: ChatRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": message.role, "content": message.content} for message in request.messages]
        arguments: dict[str, Any] = {"model": self.spec.model, "messages": messages}
        if self.compatible:
            # llama.cpp server and older vLLM releases know only `max_tokens`.
            arguments["max_tokens"] = request.max_tokens
        else:
            arguments["max_completion_tokens"] = request.max_tokens
            if request.json_output:
                arguments["response_format"] = {"type": "json_object"}
        if self.send_temperature:
            arguments["temperature"] = self.settings.temperature
        return arguments


def _rejects_temperature(error: openai.BadRequestError) -> bool:
    body = error.body if isinstance(error.body, dict) else {}
    return body.get("param") == "temperature" or "temperature" in str(body.get("message", ""))


def _translate(error: openai.OpenAIError) -> BackendError:
    if isinstance(error, openai.APITimeoutError):
        return BackendError(TIMEOUT, "the request timed out", retryable=True)
    if isinstance(error, openai.APIConnectionError):
        return BackendError(CONNECTION_ERROR, str(error), retryable=True)
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        message = _error_message(error)
        if status == 429 and _error_code(error) == "insufficient_quota":
            return BackendError(QUOTA_EXHAUSTED, message, retryable=False, status_code=status)
        return status_error(status, message, parse_retry_after(error.response.headers))
    return BackendError("backend_error", f"{type(error).__name__}: {error}")


def _error_code(error: openai.APIStatusError) -> str | None:
    body = error.body if isinstance(error.body, dict) else {}
    return body.get("code")


def _error_message(error: openai.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return str(body.get("message") or error.message)[:500]


def _reply_from(completion: Any) -> ChatReply:
    usage = completion.usage
    input_tokens = getattr(usage, "prompt_tokens", 0) or 0
    output_tokens = getattr(usage, "completion_tokens", 0) or 0
    details = getattr(usage, "completion_tokens_details", None)
    thinking_tokens = getattr(details, "reasoning_tokens", 0) or 0
    reply = ChatReply(
        text="",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        thinking_tokens=thinking_tokens,
        model_version=getattr(completion, "model", None),
    )
    if not completion.choices:
        reply.failure, reply.detail = EMPTY_RESPONSE, "the response has no choices"
        return reply

    choice = completion.choices[0]
    reply.finish_reason = choice.finish_reason
    reply.text = choice.message.content or ""
    refusal = getattr(choice.message, "refusal", None)
    if choice.finish_reason == "content_filter":
        reply.failure, reply.detail = SAFETY_BLOCK, "finish_reason content_filter"
    elif refusal:
        reply.failure, reply.detail = REFUSAL, str(refusal)[:500]
    elif choice.finish_reason == "length":
        reply.failure = OUTPUT_TRUNCATED
        reply.detail = f"output reached the token limit after {output_tokens} tokens ({thinking_tokens} reasoning)"
    elif not reply.text.strip():
        reply.failure, reply.detail = EMPTY_RESPONSE, f"empty text, finish_reason {choice.finish_reason}"
    return reply
