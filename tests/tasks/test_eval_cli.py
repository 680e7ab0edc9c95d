"""`culturebench eval`: the thin wrapper over lm-eval's simple_evaluate."""

from __future__ import annotations

import json

import pytest

from culturebench.cli import main


def test_missing_data_file_is_user_error(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path / "absent.jsonl"), "--tasks", "culture_arabic_both"]) == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_nonpositive_limit_rejected(arabic_data, capsys):
    assert main(["eval", "--data", str(arabic_data), "--limit", "0"]) == 2
    assert "--limit must be positive" in capsys.readouterr().err


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
