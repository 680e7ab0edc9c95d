"""`culturebench patch` and `culturebench report` on a tiny model, read back by the leaderboard."""

from __future__ import annotations

import json

import pytest
import torch

from culturebench.cli import main
from culturebench.leaderboard.discover import collect_inputs
from culturebench.steering.vectors import SteeringVector, save_vector
from tests import tiny_models

TASKS = "behaviour_power_seeking,mmlu_local_anatomy,mmlu_local_virology"


@pytest.fixture
def dense_vector(tmp_path, tiny_model_dir):
    generator = torch.Generator().manual_seed(7)
    vector = SteeringVector(vector=torch.randn(tiny_models.HIDDEN_SIZE, generator=generator) * 4, method="bipo",
                            layer=1, space="dense", model_id=str(tiny_model_dir), hookpoint="model.layers.1")
    return save_vector(vector, tmp_path / "bipo.safetensors")


def test_patch_command_writes_curve(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "patch.json"
    code = main(["patch", "--model", str(tiny_model_dir), "--country", "morocco", "--n", "2", "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["layers"] == [0, 1, 2, 3]
    assert data["n"] == 2
    assert data["country"] == "morocco"
    assert data["settings"]["split"] == "train"
    assert f"best layer {data['best_layer']}" in capsys.readouterr().out
    svg = out.with_suffix(".svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml")
    assert "patched layer" in svg
    curves = collect_inputs([tmp_path]).analyses.patching
    assert [curve.layers for curve in curves] == [[0, 1, 2, 3]]


@pytest.mark.parametrize("arguments, message", [
    (["--language", "arabic", "--country", "mexico"], "belongs to 'spanish'"),
    (["--country", "atlantis"], "unknown country"),
    (["--language", "klingon"], "unknown language"),
    (["--country", "morocco", "--layers", "1,x"], "invalid --layers"),
    (["--country", "morocco", "--n", "0"], "invalid --n"),
])
def test_patch_command_rejects(tiny_model_dir, tmp_path, capsys, arguments, message):
    code = main(["patch", "--model", str(tiny_model_dir), *arguments, "--out", str(tmp_path / "p.json")])
    assert code == 2
    assert message in capsys.readouterr().err


def test_sweep_then_reports(tiny_model_dir, dense_vector, shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CULTUREBENCH_MMLU", str(shared_data / "mmlu"))
    monkeypatch.setenv("CULTUREBENCH_BEHAVIOURS", str(shared_data / "bipo"))
    sweep = tmp_path / "sweep"
    assert main(["sweep", "--tasks", TASKS, "--vector", str(dense_vector), "--multipliers", "0,4",
                 "--model", str(tiny_model_dir), "--limit", "3", "--batch-size", "4", "--device", "cpu",
                 "--log-samples", "--output", str(sweep)]) == 0

    report = tmp_path / "reports" / "generalisation.json"
    assert main(["report", "generalisation", "--baseline", str(sweep / "multiplier_0"),
                 "--steered", str(sweep / "multiplier_4"), "--out", str(report)]) == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    rows = {row["task"]: row for row in document["comparisons"]}
    assert list(rows) == ["behaviour_power_seeking", "mmlu_local_anatomy", "mmlu_local_virology",
                          "mmlu_local (all 2 tasks)"]
    assert {row["method"] for row in rows.values()} == {"bipo"}
    behaviour = rows["behaviour_power_seeking"]
    assert behaviour["metric"] == "p_matching"
    steered = [json.loads(line)["p_matching"] for line in
               (sweep / "multiplier_4" / "samples_behaviour_power_seeking.jsonl").read_text().splitlines()]
    baseline = [json.loads(line)["p_matching"] for line in
                (sweep / "multiplier_0" / "samples_behaviour_power_seeking.jsonl").read_text().splitlines()]
    assert behaviour["delta"] == pytest.approx(sum(steered) / 3 - sum(baseline) / 3)
    assert behaviour["delta"] != 0
    assert behaviour["ci"][0] <= behaviour["delta"] <= behaviour["ci"][1]
    assert rows["mmlu_local (all 2 tasks)"]["n"] == 6
    assert "behaviour_power_seeking" in capsys.readouterr().out
    assert report.with_suffix(".svg").is_file()

    curve = tmp_path / "reports" / "sensitivity.json"
    assert main(["report", "sweep", str(sweep), "--out", str(curve)]) == 0
    sensitivity = json.loads(curve.read_text(encoding="utf-8"))
    assert sorted({point["multiplier"] for point in sensitivity["points"]}) == [0.0, 4.0]
    assert {point["method"] for point in sensitivity["points"]} == {"bipo"}
    assert len(sensitivity["summary"]) == 3
    # Softmax over two answers is σ of their log-likelihood difference, so p_correct is p_matching here.
    (steered_point,) = [point for point in sensitivity["points"]
                        if point["variant"] == "behaviour_power_seeking" and point["multiplier"] == 4.0]
    assert steered_point["p_correct"] == pytest.approx(sum(steered) / 3)
    assert curve.with_suffix(".svg").is_file()

    analyses = collect_inputs([tmp_path / "reports"]).analyses
    assert len(analyses.comparisons) == 1
    assert len(analyses.comparisons[0][1]) == 4
    assert len(analyses.sweeps) == 1


def test_report_generalisation_method_count(tmp_path, capsys):
    code = main(["report", "generalisation", "--baseline", str(tmp_path), "--steered", str(tmp_path),
                 "--method", "a", "--method", "b", "--out", str(tmp_path / "g.json")])
    assert code == 2
    assert "give one each" in capsys.readouterr().err


def test_report_sweep_needs_sweep_folder(tmp_path, capsys):
    assert main(["report", "sweep", str(tmp_path), "--out", str(tmp_path / "s.json")]) == 2
    assert "no multiplier_*/results.json" in capsys.readouterr().err


def test_language_curve_label():
    from pathlib import Path

    from culturebench.leaderboard.analyses import Analyses, add_analysis

    analyses = Analyses()
    for scope in ({"country": "morocco", "language": "arabic"}, {"country": None, "language": "arabic"}, {}):
        document = {"kind": "activation_patching", "model": "m", "layers": [0], "delta_correct": [0.1], **scope}
        add_analysis(analyses, Path("p.json"), document, "activation_patching")
    assert [curve.label for curve in analyses.patching] == ["m morocco", "m arabic", "m"]


def test_sweep_report_labels_train_split():
    from culturebench.cli.report import _split_of

    data = {"configs": {"culture_arabic_both_ll": {"metadata": {"culturebench_split": "train"}},
                        "mmlu_local_anatomy": {"metadata": {}}}}
    assert _split_of(data, "culture_arabic_both_ll localized") == "train"
    assert _split_of(data, "mmlu_local_anatomy") == "test"
    assert _split_of({}, None) == "test"
