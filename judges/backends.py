"""Build the backend object for a judge spec, importing only the SDK that spec needs."""

from __future__ import annotations

from culturebench.judges.backend import Backend
from culturebench.judges.spec import GenerationSettings, JudgeSpec


def build_backend(spec: JudgeSpec, settings: GenerationSettings | None = None) -> Backend:
    """Return a backend for `spec`; raise CultureBenchError when its API key is missing."""
    settings = settings or GenerationSettings()
    if spec.backend in ("openai", "openai-compatible"):
        from culturebench.judges.openai_backend import OpenAIBackend

        return OpenAIBackend(spec, settings)
    if spec.backend == "gemini":
        from culturebench.judges.gemini_backend import GeminiBackend

        return GeminiBackend(spec, settings)
    if spec.backend == "hf":
        from culturebench.judges.hf_backend import TransformersBackend

        return TransformersBackend(spec, settings)
    raise ValueError(f"unknown judge backend {spec.backend!r}")
