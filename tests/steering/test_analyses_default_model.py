"""The analyses on the real default model: a patching curve over all 18 layers, and mmlu_local and a
behaviour task with and without a vector trained from BiPO-layout pairs."""

from __future__ import annotations

import csv
import json

import pytest

from culturebench.cli import main
from culturebench.steering.vectors import load_vector

pytestmark = pytest.mark.slow

MMLU_SUBJECTS = ("anatomy", "virology")
BEHAVIOUR = "power_seeking"
MULTIPLIER = "8"


def test_patch_curve_over_all_layers(tmp_path):
    out = tmp_path / "patch.json"
    assert main(["patch", "--country", "morocco", "--n", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["model"] == "google/gemma-3-270m"
    assert data["layers"] == list(range(18))
    assert data["n"] == 2
    assert 0 <= data["best_layer"] < 18
    assert all(-1.0 <= value <= 1.0 for value in data["delta_correct"])
    assert all(value is not None for value in data["delta_western"])
    assert 0.0 < data["baseline"]["p_correct_nonlocalized"] < 1.0
    assert "patched layer" in out.with_suffix(".svg").read_text(encoding="utf-8")


def _pairs_subset(shared_data, path, rows: int):
    with (shared_data / "bipo" / "power-seeking" / "train.csv").open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        with path.open("w", encoding="utf-8", newline="") as target:
            writer = csv.DictWriter(target, fieldnames=reader.fieldnames)
            writer.writeheader()
            for _, row in zip(range(rows), reader):
                writer.writerow(row)
    return path


def test_generalisation_with_bipo_pairs_vector(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("CULTUREBENCH_MMLU", str(shared_data / "mmlu"))
    monkeypatch.setenv("CULTUREBENCH_BEHAVIOURS", str(shared_data / "bipo"))
    pairs = _pairs_subset(shared_data, tmp_path / "pairs.csv", rows=8)
    vector_file = tmp_path / "bipo-power-seeking.safetensors"
    assert main(["train", "--method", "bipo", "--pairs", str(pairs), "--steps", "4", "--batch-size", "2",
                 "--warmup-steps", "0", "--lr", "0.05", "--dtype", "float32", "--out", str(vector_file)]) == 0
    vector = load_vector(vector_file)
    assert vector.method == "bipo"
    assert vector.norm > 0

    tasks = ",".join([*(f"mmlu_local_{subject}" for subject in MMLU_SUBJECTS), f"behaviour_{BEHAVIOUR}"])
    sweep = tmp_path / "sweep"
    assert main(["sweep", "--tasks", tasks, "--vector", str(vector_file), "--multipliers", f"0,{MULTIPLIER}",
                 "--limit", "2", "--batch-size", "8", "--dtype", "float32", "--device", "cpu", "--log-samples",
                 "--output", str(sweep)]) == 0
    report = tmp_path / "generalisation.json"
    assert main(["report", "generalisation", "--baseline", str(sweep / "multiplier_0"),
                 "--steered", str(sweep / f"multiplier_{MULTIPLIER}"), "--out", str(report)]) == 0

    rows = {row["task"]: row for row in json.loads(report.read_text(encoding="utf-8"))["comparisons"]}
    assert set(rows) == {"mmlu_local_anatomy", "mmlu_local_virology", f"behaviour_{BEHAVIOUR}",
                         "mmlu_local (all 2 tasks)"}
    behaviour = rows[f"behaviour_{BEHAVIOUR}"]
    assert behaviour["method"] == "bipo"
    assert behaviour["metric"] == "p_matching"
    assert behaviour["n"] == 2
    # A trained vector at λ = 8 moves the answer probabilities; λ = 0 is the unsteered model.
    assert behaviour["delta"] != 0.0
    assert rows["mmlu_local (all 2 tasks)"]["n"] == 4
    assert report.with_suffix(".svg").is_file()
