"""`culturebench eval`: the thin wrapper over lm-eval's simple_evaluate."""

from __future__ import annotations

import json

import pytest

from culturebench.cli import main
from tests.model_guard import no_model_loading  # noqa: F401 - a fixture


def test_missing_data_file_is_user_error(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path / "absent.jsonl"), "--tasks", "culture_arabic_both"]) == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_nonpositive_limit_rejected(arabic_data, capsys):
    assert main(["eval", "--data", str(arabic_data), "--limit", "0"]) == 2
    assert "--limit must be positive" in capsys.readouterr().err


def test_unknown_task_rejected_before_model(arabic_data, tmp_path, no_model_loading, capsys):
    code = main(["eval", "--data", str(arabic_data), "--tasks", "culture_arabic_both_ll,culture_arabic_bothh",
                 "--model-args", f"pretrained={tmp_path / 'absent-model'}", "--device", "cpu"])
    assert code == 2
    error = capsys.readouterr().err
    assert "unknown lm-eval task 'culture_arabic_bothh'" in error
    assert "close to culture_arabic_both" in error
    assert "'culture_arabic_both_ll'" not in error


@pytest.mark.slow
def test_eval_writes_lm_eval_layout(tiny_model_dir, arabic_data, tmp_path, capsys):
    output = tmp_path / "run"
    code = main([
        "eval",
        "--data", str(arabic_data),
        "--tasks", "culture_arabic_both_ll",
        "--model-args", f"pretrained={tiny_model_dir},dtype=float32",
        "--device", "cpu",
        "--output", str(output),
    ])
    assert code == 0
    assert "culture_arabic_both_ll" in capsys.readouterr().out

    (results_file,) = output.rglob("results_*.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))
    assert results["configs"]["culture_arabic_both_ll"]["metadata"]["culturebench_data"] == str(arabic_data)
    assert "rca,none" in results["results"]["culture_arabic_both_ll"]
    (samples_file,) = output.rglob("samples_culture_arabic_both_ll_*.jsonl")
    assert len(samples_file.read_text(encoding="utf-8").splitlines()) == 24


def test_task_manager_passes_metadata(arabic_data):
    import argparse

    from culturebench.cli.eval import _task_manager
    from culturebench.tasks.docs import DATA_KEY, SPLIT_KEY

    args = argparse.Namespace(model_args="pretrained=some-model,dtype=float32")
    manager = _task_manager(args, {DATA_KEY: str(arabic_data), SPLIT_KEY: "test"})
    task = manager.load(["culture_arabic_both_ll"])["tasks"]["culture_arabic_both_ll"]
    metadata = task.config.metadata
    assert metadata[DATA_KEY] == str(arabic_data)
    assert metadata[SPLIT_KEY] == "test"
    assert metadata["pretrained"] == "some-model"
    assert len(task.test_docs()) == 24
