"""The real default model offline: CAA/SAS from the bundled train split, steered lm-eval, exact λ=0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval import simple_evaluate

from culturebench.cli import main
from culturebench.model_presets import get_preset
from culturebench.models import default_sae_path, resolve_model_path
from culturebench.steering.vectors import load_vector

pytestmark = pytest.mark.slow

COUNTRY = "egypt"
GEN_KWARGS = "max_gen_toks=6"
LAYER = get_preset("default").default_layer


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("default-vectors")
    paths = {"caa": folder / "caa.safetensors", "sas": folder / "sas.safetensors"}
    common = ["--country", COUNTRY, "--setting", "nonlocalized", "--batch-size", "16"]
    assert main(["extract", "--method", "caa", *common, "--out", str(paths["caa"])]) == 0
    # Without --sae, SAS reads the SAE bundled for the default model.
    assert main(["extract", "--method", "sas", *common, "--out", str(paths["sas"])]) == 0
    return paths


@pytest.fixture(scope="module")
def task_manager():
    from lm_eval.tasks import TaskManager

    return TaskManager()


def _resps(task_manager, model: str, model_args: str) -> dict:
    results = simple_evaluate(model=model, model_args=model_args, tasks=["culture_arabic_nonloc_ll"], limit=2,
                              batch_size=8, device="cpu", log_samples=True, task_manager=task_manager)
    return {task: [sample["resps"] for sample in samples] for task, samples in results["samples"].items()}


def test_vectors_from_train_split(vectors):
    caa = load_vector(vectors["caa"])
    sas = load_vector(vectors["sas"])
    assert caa.model_id == "google/gemma-3-270m"
    assert (caa.space, caa.layer, caa.country) == ("dense", LAYER, COUNTRY)
    assert caa.vector.shape == (640,)
    assert caa.norm > 0
    assert (sas.space, sas.layer) == ("sae", LAYER)
    assert sas.sae.spec == default_sae_path().name
    assert sas.vector.shape == (sas.sae.d_sae,)
    assert int(sas.extra["positives"]) == 25
    assert sas.l0 > 0


def test_zero_multiplier_reproduces_unsteered(vectors, task_manager):
    path = resolve_model_path("default")
    files = f"{vectors['caa']};{vectors['sas']}"
    plain = _resps(task_manager, "hf", f"pretrained={path}")
    zero = _resps(task_manager, "steered_hf", f"pretrained=default,vector={files},multiplier=0")
    steered = _resps(task_manager, "steered_hf", f"pretrained=default,vector={files},multiplier=8")
    assert zero == plain
    assert steered["culture_arabic_nonloc_ll"] != plain["culture_arabic_nonloc_ll"]


def test_lm_eval_command_runs_offline(vectors, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [
        sys.executable, "-m", "lm_eval", "--model", "steered_hf", "--tasks", "culture_arabic_nonloc",
        "--model_args", f"pretrained=default,vector={vectors['sas']},multiplier=2",
        "--limit", "2", "--gen_kwargs", GEN_KWARGS, "--device", "cpu", "--output_path", str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((tmp_path / "out").rglob("results_*.json"))
