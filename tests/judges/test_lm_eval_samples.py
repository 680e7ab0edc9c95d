"""Judge a samples file that lm-eval itself wrote for culture_arabic_nonloc_oe, through each backend."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from culturebench.cli import main
from culturebench.items import Item, Option
from culturebench.judges import read_results, read_samples
from tests.judges.conftest import DOCS

REPO_ROOT = Path(__file__).resolve().parents[2]
TASK = "culture_arabic_nonloc_oe"


def write_items(path: Path) -> Path:
    """Write Arabic items in culturebench's jsonl schema, both variants of each question."""
    options = (Option("فول", "egypt"), Option("كبسة", "ksa"), Option("منسف", "levantine"),
               Option("كسكس", "morocco"), Option("خبز محمص", "western"))
    countries = [option.country for option in options]
    with path.open("w", encoding="utf-8") as handle:
        for number, doc in enumerate(DOCS):
            for variant in ("localized", "nonlocalized"):
                item = Item(
                    id=f"ar-{doc['country']}-{number}-{variant}", pair_id=f"ar-{doc['country']}-{number}",
                    language="arabic", country=doc["country"], topic="food", subtopic="meals", variant=variant,
                    question=doc["question"], options=options, answer=countries.index(doc["country"]),
                    gold_open=doc["gold_open"], split="test",
                )
                handle.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def lm_eval_run(tmp_path_factory, tiny_model_dir):
    """Run the lm_eval command with --log_samples on the tiny model; return its output folder."""
    root = tmp_path_factory.mktemp("lm-eval")
    items = write_items(root / "items.jsonl")
    command = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}",
        "--device", "cpu", "--tasks", TASK, "--log_samples", "--output_path", str(root / "out"),
        "--gen_kwargs", "max_gen_toks=16", "--metadata", json.dumps({"culturebench_data": str(items)}),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return root / "out"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["openai:gpt-4o-mini", "gemini:gemini-2.5-flash", "compatible"])
def test_judge_real_lm_eval_samples(lm_eval_run, stub, api_keys, monkeypatch, tmp_path, backend):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.openai_base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", stub.url)
    spec = f"openai-compatible:{stub.openai_base_url}:qwen" if backend == "compatible" else backend
    (samples_file,) = lm_eval_run.rglob(f"samples_{TASK}_*.jsonl")
    out = tmp_path / "judge.jsonl"

    code = main(["judge", "--samples", str(lm_eval_run), "--judge", spec, "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress"])

    assert code == 0
    samples = read_samples(samples_file)
    records = read_results(out)
    assert len(records) == len(DOCS)
    assert [(record["task"], record["doc_id"]) for record in records] == [(TASK, s.doc_id) for s in samples]
    assert all(record["status"] == "ok" for record in records)
    assert {record["variant"] for record in records} == {"nonlocalized"}
    assert {record["country"] for record in records} == {"egypt", "morocco"}
    assert len(stub.log) == len(DOCS)
