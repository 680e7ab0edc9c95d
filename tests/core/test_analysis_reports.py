"""Steered-versus-baseline comparisons and sweep summaries from lm-eval and sweep output folders."""

from __future__ import annotations

import json
import statistics

import pytest

from culturebench.analysis_reports import (
    compare_task, correct_probabilities, generalisation_report, read_run, sweep_summary,
)
from culturebench.errors import CultureBenchError
from culturebench.metrics import bootstrap_ci


def _write_run(folder, stamp: str, tasks: dict[str, list[dict]], *, date: float = 1.0, model_args=None):
    folder.mkdir(parents=True, exist_ok=True)
    results = {"results": {task: {} for task in tasks}, "date": date,
               "config": {"model_args": model_args or "pretrained=m"}}
    suffix = f"_{stamp}" if stamp else ""
    name = f"results{suffix}.json"
    (folder / name).write_text(json.dumps(results), encoding="utf-8")
    for task, records in tasks.items():
        lines = [json.dumps({"doc_id": index, **record}) for index, record in enumerate(records)]
        (folder / f"samples_{task}{suffix}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_read_run_picks_metrics_and_newest(tmp_path):
    folder = tmp_path / "run" / "model"
    _write_run(folder, "2026-01-01T00-00-00", {"behaviour_x": [{"p_matching": 0.2, "acc": 0}]}, date=1.0)
    _write_run(folder, "2026-01-02T00-00-00", {"behaviour_x": [{"p_matching": 0.7, "acc": 1}],
                                               "mmlu_local_a": [{"acc": 1}, {"acc": 0}]}, date=2.0)
    run = read_run(tmp_path / "run")
    assert run.tasks["behaviour_x"].metric == "p_matching"
    assert run.tasks["behaviour_x"].scores == {0: 0.7}
    assert run.tasks["mmlu_local_a"].metric == "acc"
    assert run.model_args == {"pretrained": "m"}
    forced = read_run(tmp_path / "run", metric="acc")
    assert forced.tasks["behaviour_x"].scores == {0: 1.0}


def test_read_run_errors(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        read_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CultureBenchError, match="--log_samples"):
        read_run(tmp_path / "empty")
    _write_run(tmp_path / "bad", "", {"t": [{"acc": "yes"}]})
    with pytest.raises(CultureBenchError, match="no numeric 'acc'"):
        read_run(tmp_path / "bad")


def test_compare_task_is_paired():
    baseline = {0: 1.0, 1: 0.0, 2: 1.0, 3: 0.0}
    steered = {0: 1.0, 1: 1.0, 2: 0.0, 4: 1.0}
    row = compare_task("t", baseline, steered, seed=3)
    assert row["n"] == 3
    assert row["baseline"] == pytest.approx(2 / 3)
    assert row["steered"] == pytest.approx(2 / 3)
    assert row["delta"] == pytest.approx(0.0)
    assert row["ci"] == list(bootstrap_ci([0.0, 1.0, -1.0], statistics.fmean, seed=3))
    assert compare_task("t", {0: 1.0}, {1: 1.0}) is None


def test_generalisation_report_pools_mmlu(tmp_path):
    _write_run(tmp_path / "base", "", {"mmlu_local_a": [{"acc": 0}, {"acc": 1}], "mmlu_local_b": [{"acc": 0}],
                                       "behaviour_x": [{"p_matching": 0.5}] * 2})
    _write_run(tmp_path / "steer", "", {"mmlu_local_a": [{"acc": 1}, {"acc": 1}], "mmlu_local_b": [{"acc": 0}],
                                        "behaviour_x": [{"p_matching": 0.75}] * 2},
               model_args="pretrained=m,vector=v.safetensors,multiplier=4")
    document = generalisation_report(read_run(tmp_path / "base"), [(read_run(tmp_path / "steer"), "bipo")])
    assert document["kind"] == "generalisation"
    rows = {row["task"]: row for row in document["comparisons"]}
    assert list(rows) == ["behaviour_x", "mmlu_local_a", "mmlu_local_b", "mmlu_local (all 2 tasks)"]
    assert rows["behaviour_x"]["delta"] == pytest.approx(0.25)
    assert rows["behaviour_x"]["metric"] == "p_matching"
    assert rows["behaviour_x"]["ci"] == [pytest.approx(0.25), pytest.approx(0.25)]
    pooled = rows["mmlu_local (all 2 tasks)"]
    assert pooled["n"] == 3
    assert pooled["delta"] == pytest.approx(1 / 3)
    assert all(row["method"] == "bipo" and row["multiplier"] == "4" for row in rows.values())


def test_generalisation_report_needs_shared_tasks(tmp_path):
    _write_run(tmp_path / "base", "", {"a": [{"acc": 1}]})
    _write_run(tmp_path / "steer", "", {"b": [{"acc": 1}]})
    with pytest.raises(CultureBenchError, match="share no task"):
        generalisation_report(read_run(tmp_path / "base"), [(read_run(tmp_path / "steer"), "caa")])


def test_sweep_summary():
    points = [
        {"method": "caa", "multiplier": m, "accuracy": a, "variant": "t"}
        for m, a in ((-4, 0.1), (-2, 0.5), (-1, 0.45), (0, 0.4), (1, 0.42), (2, 0.3), (4, 0.6))
    ] + [{"method": "bipo", "multiplier": 1, "accuracy": 0.5}]
    caa, bipo = sorted(sweep_summary(points), key=lambda line: line["method"], reverse=True)
    assert caa["accuracy_at_zero"] == 0.4
    assert caa["best"] == {"multiplier": 4.0, "accuracy": 0.6}
    assert caa["worst"] == {"multiplier": -4.0, "accuracy": 0.1}
    assert caa["range_at_least_zero"] == [-2.0, 1.0]
    assert bipo["accuracy_at_zero"] is None
    assert bipo["range_at_least_zero"] is None
    assert bipo["variant"] is None


def test_correct_probabilities(tmp_path):
    import math

    records = [
        {"doc_id": 0, "doc": {"variant": "localized"}, "target": 1, "filtered_resps": [[-2.0, False], [-4.0, False]],
         "arguments": [["Q\nAnswer:", " ab"], ["Q\nAnswer:", " abcd"]]},
        {"doc_id": 1, "doc": {"variant": "nonlocalized"}, "target": 0,
         "filtered_resps": [[-1.0, True], [-1.0, False]],
         "arguments": {"gen_args_0": {"arg_0": "Q", "arg_1": " x"}, "gen_args_1": {"arg_0": "Q", "arg_1": " y"}}},
        {"doc_id": 2, "doc": {}, "target": 0, "filtered_resps": ["generated text"], "arguments": [["Q", ""]]},
    ]
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")

    raw = correct_probabilities(path, normalise=False)
    assert raw["localized"] == pytest.approx(1 / (1 + math.exp(2.0)))
    assert raw["nonlocalized"] == pytest.approx(0.5)
    assert None not in raw
    normalised = correct_probabilities(path, normalise=True)
    assert normalised["localized"] == pytest.approx(0.5)
