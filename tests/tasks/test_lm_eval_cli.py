"""The real `lm_eval` command finds and runs the culture tasks without --include_path."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from culturebench import metrics

LM_EVAL = str(Path(sys.executable).parent / "lm_eval")


def lm_eval(*args: str, **env: str) -> subprocess.CompletedProcess:
    # One torch thread: on a busy 2-core machine, two threads make tiny-model generation ~30x slower.
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    result = subprocess.run([LM_EVAL, *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.mark.slow
def test_ls_tasks_lists_culture_tasks():
    listing = lm_eval("ls", "tasks").stdout
    for name in ("culture_arabic_nonloc", "culture_arabic_egypt_both_ll", "culture_hindi_nepal_loc_oe", "culture_all"):
        assert name in listing


@pytest.mark.slow
def test_both_task_metrics_match_culturebench(tiny_model_dir, arabic_data, tmp_path):
    output = tmp_path / "out"
    lm_eval(
        "run",
        "--tasks", "culture_arabic_both,culture_arabic_both_ll",
        "--model", "hf",
        "--model_args", f"pretrained={tiny_model_dir},dtype=float32",
        "--device", "cpu",
        "--gen_kwargs", "max_gen_toks=16",
        "--metadata", json.dumps({"culturebench_data": str(arabic_data)}),
        "--output_path", str(output),
        "--log_samples",
    )
    (results_file,) = output.rglob("results_*.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]

    for task, correct_key in (("culture_arabic_both", "acc"), ("culture_arabic_both_ll", "acc_norm")):
        samples = samples_of(output, task)
        assert len(samples) == 24
        for sample in samples:
            assert sample["rca"]["variant"] == sample["doc"]["variant"]
            assert sample["rca"]["pred"] in range(-1, len(sample["doc"]["options"]))
        by_variant = {
            variant: [sample[correct_key] for sample in samples if sample["doc"]["variant"] == variant]
            for variant in ("localized", "nonlocalized")
        }
        acc_loc = metrics.accuracy(by_variant["localized"])
        acc_nonloc = metrics.accuracy(by_variant["nonlocalized"])
        reported = results[task]
        assert reported["acc_loc,none"] == pytest.approx(acc_loc)
        assert reported["acc_nonloc,none"] == pytest.approx(acc_nonloc)
        assert reported["rca,none"] == pytest.approx(metrics.rca(acc_loc, acc_nonloc))
        assert reported["pnlg,none"] == pytest.approx(metrics.pnlg(acc_loc, acc_nonloc))
        assert not math.isnan(reported["rca,none"])

    generation = results["culture_arabic_both"]
    assert generation["extraction_failed,none"] == pytest.approx(
        sum(sample["extraction_failed"] for sample in samples_of(output, "culture_arabic_both")) / 24
    )
    # The random model never picks an option, so log-likelihood scoring is the non-trivial check.
    loglikelihood = results["culture_arabic_both_ll"]
    assert loglikelihood["acc_loc,none"] + loglikelihood["acc_nonloc,none"] > 0


def samples_of(output: Path, task: str) -> list[dict]:
    # The timestamp suffix starts with a digit, which keeps `culture_x_both` from matching `culture_x_both_ll`.
    (samples_file,) = output.rglob(f"samples_{task}_[0-9]*.jsonl")
    return [json.loads(line) for line in samples_file.read_text(encoding="utf-8").splitlines()]
