"""Fixtures for the builder tests: the scripted generator stub, API keys and fast generator settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from culturebench.builder import BuildConfig, GeneratorConfig
from culturebench.judges import Backoff, GenerationSettings, JudgeSpec
from tests.builder.script import SEEDS_YAML, respond
from tests.judges.stub_server import StubJudgeServer

OPENAI_KEY = "sk-test-SECRET-builder-0123456789"
GEMINI_KEY = "gemini-test-SECRET-builder"


@pytest.fixture
def stub():
    with StubJudgeServer(responder=respond) as server:
        yield server


@pytest.fixture
def api_keys(monkeypatch, tmp_path):
    """Set test API keys, clear base URLs and send the default reply cache into the test's folder."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    for name in ("GOOGLE_API_KEY", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "OPENAI_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CULTUREBENCH_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.delenv("CULTUREBENCH_CACHE_DIR", raising=False)


@pytest.fixture
def seeds_file(tmp_path) -> Path:
    path = tmp_path / "seeds.yaml"
    path.write_text(SEEDS_YAML, encoding="utf-8")
    return path


def stub_spec(stub: StubJudgeServer, backend: str) -> JudgeSpec:
    """Return a generator spec whose SDK talks to the stub."""
    if backend == "openai":
        return JudgeSpec("openai", "gpt-4o-mini", stub.openai_base_url)
    if backend == "gemini":
        return JudgeSpec("gemini", "gemini-2.5-flash", stub.url)
    return JudgeSpec("openai-compatible", "qwen2.5-7b-instruct", stub.openai_base_url)


def fast_generation(cache_dir: Path | None, **overrides) -> GeneratorConfig:
    """Return generator settings with short timeouts and waits."""
    values = dict(
        concurrency=4,
        max_retries=2,
        settings=GenerationSettings(timeout_s=5.0),
        backoff=Backoff(base_s=0.02, max_s=0.1, max_retry_after_s=5.0),
        cache_dir=cache_dir,
        use_cache=cache_dir is not None,
        progress=False,
    )
    values.update(overrides)
    return GeneratorConfig(**values)


def build_config(seeds: Path, spec: JudgeSpec, out: Path, cache_dir: Path | None, **overrides) -> BuildConfig:
    return BuildConfig(seeds=seeds, generator=spec, out=out, generation=fast_generation(cache_dir), **overrides)
