"""SAE corpus sources, caps and the held-out split."""

from __future__ import annotations

import json

import pytest

from culturebench.corpus import SEED_DIR, build_corpus, cap_per_language, read_samples, split_of
from culturebench.corpus_generate import PROMPTS, SamplingSettings, settings_record
from culturebench.corpus_sources import (
    READERS,
    DebianSource,
    Document,
    fetch_debian_packages,
    read_debian_source,
    read_seed_files,
)
from culturebench.errors import CultureBenchError


def test_prompts_cover_five_languages():
    assert sorted(PROMPTS) == ["arabic", "english", "hindi", "portuguese", "spanish"]
    assert len({len(prompts) for prompts in PROMPTS.values()}) == 1


def test_split_is_deterministic():
    texts = [f"document number {index}" for index in range(2000)]
    first = [split_of(text, 0.1) for text in texts]
    second = [split_of(text, 0.1) for text in texts]
    assert first == second
    share = first.count("heldout") / len(first)
    assert 0.07 < share < 0.13


def test_cap_keeps_every_source():
    documents = [Document("a" * 100, "english", "first") for _ in range(50)]
    documents += [Document("b" * 100, "english", "second") for _ in range(50)]
    documents += [Document("c" * 100, "hindi", "third") for _ in range(5)]
    kept = cap_per_language(documents, max_chars=2000)
    english_sources = [document.source for document in kept if document.language == "english"]
    assert len(english_sources) == 20
    assert english_sources.count("first") == 10
    assert english_sources.count("second") == 10
    assert sum(1 for document in kept if document.language == "hindi") == 5


def test_fortune_reader_splits_entries(tmp_path):
    path = tmp_path / "food"
    path.write_text("Eat your vegetables.\n%\nAn apple a day\nkeeps the doctor away.\n%\nLast one", encoding="utf-8")
    assert list(READERS["fortune"](path)) == ["Eat your vegetables.", "An apple a day\nkeeps the doctor away.", "Last one"]
    assert list(READERS["fortune"](tmp_path / "food.dat")) == []


def test_markup_reader_drops_code_and_tags(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><style>p {color: red}</style></head><body><h1>Título</h1>"
        "<p>Abra o <b>menu</b> principal.</p><code>rm -rf /</code><p>Segundo parágrafo.</p></body></html>",
        encoding="utf-8",
    )
    assert list(READERS["markup"](path)) == ["Título\nAbra o menu principal.\nSegundo parágrafo."]


def test_script_filter_keeps_native_lines(tmp_path):
    root = tmp_path / "pkg"
    (root / "help").mkdir(parents=True)
    (root / "help" / "page.html").write_text(
        "<p>This line was never translated into Hindi at all.</p><p>यह पंक्ति हिंदी में लिखी गई है और रखी जाती है।</p>",
        encoding="utf-8",
    )
    source = DebianSource("pkg", "hindi", "markup", "help/*.html", "MIT")
    documents = list(read_debian_source(source, root))
    assert len(documents) == 1
    assert documents[0].text == "यह पंक्ति हिंदी में लिखी गई है और रखी जाती है।"
    assert documents[0].source == "debian:pkg"


def test_seed_files_yield_questions():
    documents = list(read_seed_files(SEED_DIR))
    assert documents
    assert {document.language for document in documents} <= set(PROMPTS)
    assert all(len(document.text) >= 20 for document in documents)


def test_read_samples_keeps_language(tmp_path):
    path = tmp_path / "samples.jsonl"
    rows = [{"text": "Hola a todos, hoy cocinamos", "language": "spanish", "batch": 0, "new_tokens": 5}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    assert read_samples(path) == [Document("Hola a todos, hoy cocinamos", "spanish", "model-samples")]


def test_build_corpus_without_debian(tmp_path, tiny_tokenizer):
    settings = settings_record(SamplingSettings(), "default")
    manifest = build_corpus(tmp_path, debian_work_dir=None, max_chars_per_language=10**7,
                            heldout_fraction=0.2, tokenizer=tiny_tokenizer, sampling=settings)
    train = (tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()
    heldout = (tmp_path / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(train) == manifest["documents"]["train"]
    assert len(heldout) == manifest["documents"]["heldout"]
    assert manifest["counts"]["train"]["total_tokens"] > 0
    assert manifest["sampling"]["temperature"] == 1.0
    assert not set(train) & set(heldout)
    saved = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(manifest))


def test_fetch_reports_unknown_package(tmp_path):
    with pytest.raises(CultureBenchError, match="no-such-package-culturebench"):
        fetch_debian_packages(["no-such-package-culturebench"], tmp_path)
