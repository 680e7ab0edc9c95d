"""A built dataset runs in the culture_* lm-eval tasks through `culturebench eval --data`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from culturebench.builder import build_dataset
from culturebench.loaders import load_items
from tests.builder.conftest import build_config, stub_spec

CULTUREBENCH = str(Path(sys.executable).parent / "culturebench")


@pytest.mark.slow
def test_built_dataset_runs_in_culture_tasks(stub, api_keys, seeds_file, tmp_path, tiny_model_dir):
    out = tmp_path / "built"
    build_dataset(build_config(seeds_file, stub_spec(stub, "openai"), out, tmp_path / "cache"))
    test_ids = {item.id for item in load_items(out) if item.split == "test"}

    runs = tmp_path / "runs"
    # One torch thread: on a busy 2-core machine, two threads make tiny-model runs much slower.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        CULTUREBENCH, "eval", "--data", str(out), "--tasks", "culture_english_both_ll",
        "--model", "hf", "--model-args", f"pretrained={tiny_model_dir},dtype=float32", "--device", "cpu",
        "--limit", "4", "--output", str(runs),
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-4000:]

    (results_file,) = runs.rglob("results_*.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]["culture_english_both_ll"]
    assert 0.0 <= results["acc,none"] <= 1.0
    assert "acc_loc,none" in results
    (samples_file,) = runs.rglob("samples_culture_english_both_ll_*.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(samples) == 4
    for sample in samples:
        assert sample["doc"]["id"] in test_ids
        assert sample["doc"]["source"] == "test-build"
        # One log-likelihood request per option of the built item.
        assert len(sample["arguments"]) == len(sample["doc"]["options"])
