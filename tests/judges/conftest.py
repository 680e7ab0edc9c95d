"""Fixtures for judge tests: the stub judge server, API keys, fast run settings and samples files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from culturebench.judges import Backoff, GenerationSettings, JudgeSpec, RunConfig
from tests.judges.stub_server import StubJudgeServer

OPENAI_KEY = "sk-test-SECRET-openai-0123456789"
GEMINI_KEY = "gemini-test-SECRET-abcdef"
TASK = "culture_arabic_nonloc_oe"
DATE = "2026-05-01T12-00-00.000001"

# Arabic items in the document layout the culture_* lm-eval tasks write into samples files.
DOCS = [
    {
        "question": "ماذا تأكل عادة في الفطور يوم الجمعة مع العائلة؟",
        "gold_open": "نأكل الفول المدمس والطعمية مع العيش البلدي والبيض.",
        "country": "egypt",
    },
    {
        "question": "كيف تهنئ جارك في أول يوم من العيد؟",
        "gold_open": "نقول كل عام وأنتم بخير ونتبادل الكعك والزيارات بعد صلاة العيد.",
        "country": "egypt",
    },
    {
        "question": "ماذا تشرب مع الضيوف بعد الغداء؟",
        "gold_open": "نقدم أتاي بالنعناع في كؤوس صغيرة ونصبه من عالٍ.",
        "country": "morocco",
    },
    {
        "question": "ما هي الحلوى التي تحضرها في رمضان؟",
        "gold_open": "نحضر الشباكية والسلو ونقدمها مع الحريرة عند الفطور.",
        "country": "morocco",
    },
]
ANSWERS = [
    "نأكل الفول المدمس والطعمية مع العيش.",
    "نقول كل عام وأنتم بخير.",
    "Tea with milk and biscuits.",
    "",
]


def make_doc(index: int, question: str, gold: str, country: str) -> dict:
    """Return a document with the fields the culture_* tasks give every item."""
    return {
        "id": f"ar-{country}-{index:04d}-nonloc",
        "pair_id": f"ar-{country}-{index:04d}",
        "language": "arabic",
        "country": country,
        "topic": "food",
        "subtopic": "meals",
        "variant": "nonlocalized",
        "question": question,
        "options": ["خيار ١", "خيار ٢", "خيار ٣", "خيار ٤", "خيار ٥"],
        "option_countries": ["egypt", "ksa", "levantine", "morocco", "western"],
        "answer": 0,
        "gold_open": gold,
        "split": "test",
        "source": "culturebench",
    }


def sample_line(doc_id: int, doc: dict, answer: str) -> dict:
    """Return one record as lm-eval 0.4.13 writes it for a generate_until task with --log_samples."""
    prompt = doc["question"]
    return {
        "doc_id": doc_id,
        "doc": doc,
        "target": doc["gold_open"],
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["<end_of_turn>"], "do_sample": False}}},
        "resps": [[answer]],
        "filtered_resps": [answer],
        "filter": "none",
        "metrics": ["nonempty"],
        "doc_hash": hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest(),
        "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
        "target_hash": hashlib.sha256(doc["gold_open"].encode()).hexdigest(),
        "nonempty": int(bool(answer.strip())),
    }


def write_samples(directory: Path, answers: list[str], task: str = TASK, date: str = DATE) -> Path:
    """Write a samples file in lm-eval's layout, cycling through DOCS for the items."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"samples_{task}_{date}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for doc_id, answer in enumerate(answers):
            base = DOCS[doc_id % len(DOCS)]
            doc = make_doc(doc_id, base["question"], base["gold_open"], base["country"])
            handle.write(json.dumps(sample_line(doc_id, doc, answer), ensure_ascii=False) + "\n")
    return path


@pytest.fixture
def stub():
    with StubJudgeServer(stall_s=3.0) as server:
        yield server


@pytest.fixture
def api_keys(monkeypatch, tmp_path):
    """Set test API keys and send the default judge cache into the test's folder."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    monkeypatch.setenv("CULTUREBENCH_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.delenv("CULTUREBENCH_CACHE_DIR", raising=False)


def stub_spec(stub: StubJudgeServer, backend: str, model: str | None = None) -> JudgeSpec:
    """Return a judge spec whose SDK talks to the stub."""
    if backend == "openai":
        return JudgeSpec("openai", model or "gpt-4o-mini", stub.openai_base_url)
    if backend == "gemini":
        return JudgeSpec("gemini", model or "gemini-2.5-flash", stub.url)
    return JudgeSpec("openai-compatible", model or "qwen2.5-7b-instruct", stub.openai_base_url)


def fast_config(cache_dir: Path | None, **overrides) -> RunConfig:
    """Return run settings with short timeouts and waits, so fault tests take seconds."""
    values = dict(
        concurrency=4,
        max_retries=2,
        cache_dir=cache_dir,
        use_cache=cache_dir is not None,
        settings=GenerationSettings(timeout_s=1.0),
        backoff=Backoff(base_s=0.02, max_s=0.1, max_retry_after_s=5.0),
        progress=False,
    )
    values.update(overrides)
    return RunConfig(**values)
