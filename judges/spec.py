"""Judge spec strings such as `openai:gpt-4o-mini` and the settings shared by every backend."""

from __future__ import annotations

import re
from dataclasses import dataclass

from culturebench.errors import CultureBenchError

BACKENDS = ("openai", "gemini", "openai-compatible", "hf")

SPEC_HELP = (
    "use openai:MODEL, gemini:MODEL, openai-compatible:URL:MODEL "
    "(for example openai-compatible:http://127.0.0.1:8000/v1:qwen2.5-7b) or hf:PATH"
)

# The URL ends at the first colon after host, optional port and path, because a path has no colon
# but a model name may (Ollama's `llama3:8b`).
_COMPATIBLE_PATTERN = re.compile(r"^(https?://[^/:\s]+(?::\d+)?(?:/[^:\s]*)?):(\S.*)$")


@dataclass(frozen=True)
class JudgeSpec:
    """A judge backend and model, plus the server URL where the backend needs or overrides one.

    `base_url` is part of the spec for `openai-compatible`. For `openai` and `gemini` it is None
    by default, so the SDK reads `OPENAI_BASE_URL` or `GOOGLE_GEMINI_BASE_URL` or uses the public
    endpoint; tests set it to point the real SDKs at a local stub.
    """

    backend: str
    model: str
    base_url: str | None = None

    @property
    def text(self) -> str:
        """The canonical spec string (also the judge name in results and cache keys)."""
        if self.backend == "openai-compatible":
            return f"{self.backend}:{self.base_url}:{self.model}"
        return f"{self.backend}:{self.model}"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class GenerationSettings:
    """Request settings for every judge call.

    Args:
        max_tokens: output token limit per call; reasoning tokens count against it.
        temperature: sampling temperature; OpenAI reasoning models are sent none.
        timeout_s: seconds before a request counts as timed out and is retried.
    """

    max_tokens: int = 1024
    temperature: float = 0.0
    timeout_s: float = 60.0


def parse_spec(text: str) -> JudgeSpec:
    """Parse a judge spec string; raise CultureBenchError naming the bad part and the fix.

    Example:
        >>> parse_spec("openai-compatible:http://127.0.0.1:8000/v1:llama3:8b").model
        'llama3:8b'
    """
    backend, separator, rest = text.strip().partition(":")
    if not separator or backend not in BACKENDS:
        raise CultureBenchError(f"invalid judge spec {text!r}: unknown backend {backend!r}; {SPEC_HELP}")
    if not rest:
        raise CultureBenchError(f"invalid judge spec {text!r}: the model is missing; {SPEC_HELP}")

    if backend == "openai-compatible":
        match = _COMPATIBLE_PATTERN.match(rest)
        # `http://host:8000/v1` alone would otherwise parse as host `host` and model `8000/v1`.
        if not match or re.match(r"^\d+(/|$)", match.group(2)):
            raise CultureBenchError(
                f"invalid judge spec {text!r}: expected openai-compatible:URL:MODEL with an http(s) URL; {SPEC_HELP}"
            )
        return JudgeSpec(backend, model=match.group(2), base_url=match.group(1).rstrip("/"))
    return JudgeSpec(backend, model=rest)
