"""End-to-end runs on the tiny model: run directory layout, stage reuse, recomputation and resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from culturebench.leaderboard.discover import collect_inputs
from culturebench.pipeline.config import render_config
from culturebench.pipeline.runner import run_pipeline
from culturebench.pipeline.summary import format_report
from culturebench.pipeline.validate import resolve_model_defaults
from culturebench.steering.vectors import load_vector
from tests import tiny_models
from tests.pipeline.conftest import TINY_LAYER, tiny_config

RUN_MANIFEST_FIELDS = ("kind", "name", "method", "setting", "country", "model", "vector", "vector_sha256", "layer",
                       "multiplier", "dataset", "dataset_sha256", "metric", "status")


def _computed(report, stage: str) -> list[str]:
    return report.stage(stage).computed


def _responses(run_dir: Path) -> list:
    (samples,) = (run_dir / "evals" / "baseline").glob("lm_eval/*/samples_*.jsonl")
    return [json.loads(line)["resps"] for line in samples.read_text(encoding="utf-8").splitlines()]


def test_caa_run_writes_every_output(tmp_path, tiny_model_dir, tiny_sae_dir):
    run_dir = tmp_path / "run"
    report = run_pipeline(tiny_config(tiny_model_dir, tiny_sae_dir, run_dir, "methods=caa", "eval.limit=2",
                                      "layer=2"))

    vector = load_vector(run_dir / "vectors" / "caa-morocco-nonlocalized.safetensors")
    assert vector.method == "caa"
    assert vector.layer == 2
    assert vector.country == "morocco"
    assert vector.setting == "nonlocalized"

    for name in ("baseline", "caa-morocco-nonlocalized"):
        folder = run_dir / "evals" / name
        manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        for field in RUN_MANIFEST_FIELDS:
            assert field in manifest, f"run.json of {name} lacks {field}"
        assert manifest["status"] == "ok"
        assert manifest["metric"] == "acc_norm"
        assert len(list(folder.glob("lm_eval/*/results_*.json"))) == 1
        assert len(list(folder.glob("lm_eval/*/samples_culture_arabic_morocco_both_ll_*.jsonl"))) == 1
    manifest = json.loads((run_dir / "evals" / "caa-morocco-nonlocalized" / "run.json").read_text(encoding="utf-8"))
    assert (run_dir / "evals" / "caa-morocco-nonlocalized" / manifest["vector"]).resolve() == \
        (run_dir / "vectors" / "caa-morocco-nonlocalized.safetensors").resolve()

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["settings"]) == {"baseline", "caa-morocco-nonlocalized"}
    caa = metrics["settings"]["caa-morocco-nonlocalized"]
    assert caa["n_localized"] == 1
    assert caa["n_nonlocalized"] == 1
    assert set(caa["dominance_bias"]) == {"egypt", "ksa", "levantine", "morocco"}
    assert "delta" in caa

    assert report.index == run_dir / "site" / "index.html"
    assert report.index.is_file()
    assert report.stage("pairs").skipped
    assert report.stage("judge").skipped
    # config.yaml records the learning rate and multipliers the run resolved, not the nulls it was given.
    expected = tiny_config(tiny_model_dir, tiny_sae_dir, run_dir, "methods=caa", "eval.limit=2", "layer=2")
    resolve_model_defaults(expected)
    assert expected.multipliers.caa == 1.0
    assert (run_dir / "config.yaml").read_text(encoding="utf-8") == render_config(expected)
    text = format_report(report)
    assert "caa-morocco-nonlocalized" in text
    assert "skipped: no judge configured" in text
    assert str(report.index) in text


def _interrupted_run(config, tmp_path: Path, marker: Path) -> None:
    """Run `culturebench run` on `config` in a child process and kill it once `marker` exists."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(render_config(config), encoding="utf-8")
    log = tmp_path / "interrupted.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("culturebench")), "run", "--config", str(config_file)],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 600
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert marker.exists(), f"the run ended or timed out before writing {marker.name}:\n{log.read_text()[-2000:]}"


@pytest.mark.slow
def test_all_methods_resume_reuse_and_recompute(tmp_path, tiny_model_dir, tiny_sae_dir):
    run_dir = tmp_path / "run"
    config = tiny_config(tiny_model_dir, tiny_sae_dir, run_dir)
    names = [f"{method}-morocco-nonlocalized" for method in ("caa", "sas", "bipo", "yapo")]
    _interrupted_run(config, tmp_path, run_dir / "state" / "eval-baseline.json")
    assert not (run_dir / "metrics.json").exists()

    resumed = run_pipeline(config)
    assert resumed.stage("pairs").reused == ["pairs-morocco-nonlocalized"]
    assert resumed.stage("vectors").reused == [f"vector-{name}" for name in names]
    evaluations = resumed.stage("evaluate")
    assert "eval-baseline" in evaluations.reused
    assert sorted(evaluations.reused + evaluations.computed) == sorted(["eval-baseline"] + [f"eval-{n}" for n in names])
    assert not [path for path in run_dir.rglob(".*.tmp")]
    for method in ("bipo", "yapo"):
        log = (run_dir / "training" / f"{method}-morocco-nonlocalized.jsonl").read_text(encoding="utf-8")
        assert [json.loads(line)["step"] for line in log.splitlines()] == [1, 2]
    yapo = load_vector(run_dir / "vectors" / "yapo-morocco-nonlocalized.safetensors")
    assert yapo.space == "sae"
    assert yapo.layer == TINY_LAYER
    assert not list((run_dir / "checkpoints").glob("*"))
    inputs = collect_inputs([run_dir / "evals"])
    assert sorted(run.manifest.get("name") for run in inputs.runs) == ["baseline", *sorted(names)]

    # The interrupted process evaluated the baseline on the model object that extraction and training
    # used before; a fresh load that only evaluates the baseline must score every option identically.
    alone = run_pipeline(tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "alone", "methods="))
    assert _computed(alone, "evaluate") == ["eval-baseline"]
    assert _responses(tmp_path / "alone") == _responses(run_dir)

    again = run_pipeline(config)
    assert not again.weights_loaded
    for stage in again.stages:
        assert stage.computed == [], f"stage {stage.name} recomputed {stage.computed}"
    assert again.metrics == resumed.metrics

    changed = run_pipeline(tiny_config(tiny_model_dir, tiny_sae_dir, run_dir, "multipliers.caa=4"))
    assert _computed(changed, "vectors") == []
    assert _computed(changed, "evaluate") == ["eval-caa-morocco-nonlocalized"]
    assert _computed(changed, "report") == ["metrics", "site"]
    assert changed.metrics["settings"]["caa-morocco-nonlocalized"]["multiplier"] == 4.0

    (run_dir / "vectors" / "sas-morocco-nonlocalized.safetensors").unlink()
    repaired = run_pipeline(tiny_config(tiny_model_dir, tiny_sae_dir, run_dir, "multipliers.caa=4"))
    assert _computed(repaired, "vectors") == ["vector-sas-morocco-nonlocalized"]
    # safetensors writes header keys in no fixed order, so a rebuilt vector file is new bytes and its
    # evaluation reruns; the other evaluations are reused.
    assert _computed(repaired, "evaluate") == ["eval-sas-morocco-nonlocalized"]


@pytest.mark.slow
def test_chat_model_uses_boxed_tasks(tmp_path, tiny_sae_dir):
    model_dir = tiny_models.save_pretrained_dir(tmp_path / "chat", chat_template=True)
    run_dir = tmp_path / "run"
    report = run_pipeline(tiny_config(model_dir, tiny_sae_dir, run_dir, "methods=caa,bipo", "layer=2",
                                      "eval.limit=2", "eval.max_gen_toks=8"))

    pairs = [json.loads(line) for line in
             (run_dir / "pairs" / "morocco-nonlocalized.jsonl").read_text(encoding="utf-8").splitlines()]
    assert pairs
    assert all("\\boxed{" in pair["chosen"] for pair in pairs)
    assert load_vector(run_dir / "vectors" / "caa-morocco-nonlocalized.safetensors").extra["format"] == "mcq"
    manifest = json.loads((run_dir / "evals" / "baseline" / "run.json").read_text(encoding="utf-8"))
    assert manifest["metric"] == "acc"
    assert manifest["tasks"] == ["culture_arabic_morocco_both"]
    (samples,) = (run_dir / "evals" / "baseline").glob("lm_eval/*/samples_culture_arabic_morocco_both_*.jsonl")
    first = json.loads(samples.read_text(encoding="utf-8").splitlines()[0])
    assert first["arguments"]["gen_args_0"]["arg_0"].startswith("<bos><|user|>")
    assert "extraction_failed" in report.metrics["settings"]["baseline"]
