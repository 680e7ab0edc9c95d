"""Tests that invalid run configurations fail before any compute, with messages naming value and fix."""

from __future__ import annotations

import shutil
import sys

import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.items import Dataset
from culturebench.loaders import export_items, load_items
from culturebench.models import default_sae_path
from culturebench.pipeline.config import load_config
from culturebench.pipeline.runner import run_pipeline
from culturebench.pipeline.validate import build_plan
from culturebench.steering.vectors import SteeringVector, save_vector
from tests import tiny_models
from tests.pipeline.conftest import TINY_LAYER, tiny_config
from tests.steering.sae_fixtures import build_sae


def test_unknown_country_fails_before_run_dir_exists(tmp_path):
    config = load_config(overrides=["country=atlantis"], out=tmp_path / "run")
    with pytest.raises(CultureBenchError, match=r"unknown country 'atlantis'.*morocco"):
        run_pipeline(config)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("settings=local", "invalid settings entry 'local'"),
        ("methods=caa,caa", "methods lists an entry twice"),
        ("methods=dpo", "invalid methods entry 'dpo'"),
        ("protocol=boxed", "invalid protocol 'boxed'"),
        ("dtype=int8", "invalid dtype 'int8'"),
        ("train.steps=0", "train.steps must be at least 1"),
        ("eval.limit=0", "eval.limit must be at least 1 or null"),
        ("extract.tau=1.5", r"extract.tau must be a fraction in \(0, 1\]"),
        ("eval.scope=world", "invalid eval.scope 'world'"),
    ],
)
def test_invalid_setting_is_named(tmp_path, tiny_model_dir, tiny_sae_dir, override, message):
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", override)
    with pytest.raises(CultureBenchError, match=message):
        build_plan(config)


def test_layer_out_of_range(tmp_path, tiny_model_dir, tiny_sae_dir):
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "methods=caa", "layer=9")
    with pytest.raises(CultureBenchError, match=r"layer 9 is out of range.*4 decoder blocks \(0 to 3\)"):
        build_plan(config)


def test_layer_must_match_sae_layer(tmp_path, tiny_model_dir, tiny_sae_dir):
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "layer=2")
    with pytest.raises(CultureBenchError, match=f"layer 2 differs from the layer the SAE .* reads \\({TINY_LAYER}\\)"):
        build_plan(config)


def test_missing_sae_path(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, tmp_path / "no-such-sae", tmp_path / "run")
    with pytest.raises(CultureBenchError, match="no-such-sae.* not found"):
        build_plan(config)


def test_model_without_bundled_sae(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, tmp_path, tmp_path / "run", "sae=null", "methods=yapo")
    with pytest.raises(CultureBenchError, match="SAS and YaPO need an SAE.*no SAE is bundled.*drop sas and yapo"):
        build_plan(config)


def test_sae_of_another_width(tmp_path, tiny_model_dir):
    folder = tmp_path / "sae32"
    build_sae("topk", d_in=32, layer=TINY_LAYER).save_model(str(folder))
    config = tiny_config(tiny_model_dir, folder, tmp_path / "run")
    with pytest.raises(CultureBenchError, match="reads vectors of size 32 but model .* has hidden size 64"):
        build_plan(config)


def test_no_sae_needed_without_sas_or_yapo(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, tmp_path / "no-such-sae", tmp_path / "run", "methods=caa,bipo", "layer=2")
    plan = build_plan(config)
    assert plan.sae is None
    assert plan.layer == 2


def _vector(tmp_path, name, *, model_id, size):
    vector = SteeringVector(vector=torch.ones(size), method="caa", layer=TINY_LAYER, space="dense",
                            model_id=model_id, hookpoint=f"model.layers.{TINY_LAYER}")
    return save_vector(vector, tmp_path / f"{name}.safetensors")


def test_given_vector_for_another_model(tmp_path, tiny_model_dir, tiny_sae_dir):
    path = _vector(tmp_path, "other", model_id="google/gemma-2-2b-it", size=64)
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", f"eval.vectors=[{path}]")
    with pytest.raises(CultureBenchError, match="was made for model 'google/gemma-2-2b-it' but this run uses"):
        build_plan(config)


def test_given_vector_of_another_size(tmp_path, tiny_model_dir, tiny_sae_dir):
    path = _vector(tmp_path, "narrow", model_id=str(tiny_model_dir), size=32)
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", f"eval.vectors=[{path}]")
    with pytest.raises(CultureBenchError, match="has 32 entries but model .* has hidden size 64"):
        build_plan(config)


def test_given_vector_becomes_an_eval_job(tmp_path, tiny_model_dir, tiny_sae_dir):
    path = _vector(tmp_path, "mine", model_id=str(tiny_model_dir), size=64)
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", f"eval.vectors=[{path}]")
    plan = build_plan(config)
    assert [job.name for job in plan.evals][-1] == "given-mine"
    assert plan.evals[-1].vector == path.resolve()


def test_missing_training_fails_loudly(tmp_path, tiny_model_dir, tiny_sae_dir, monkeypatch):
    # A None entry in sys.modules makes the import raise ImportError, as a missing module does. The
    # package attribute left by an earlier import must go too, because `from package import name` reads it.
    import culturebench.steering

    monkeypatch.setitem(sys.modules, "culturebench.steering.training", None)
    monkeypatch.delattr(culturebench.steering, "training", raising=False)
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "methods=caa,bipo", "layer=1")
    with pytest.raises(CultureBenchError, match=r"BiPO and YaPO training is not available.*methods=caa,sas"):
        build_plan(config)
    build_plan(tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "methods=caa,sas"))


def test_invalid_judge_spec(tmp_path, tiny_model_dir, tiny_sae_dir):
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "judge.spec=oracle:best")
    with pytest.raises(CultureBenchError, match="invalid judge spec 'oracle:best'"):
        build_plan(config)


def test_data_without_the_country(tmp_path, tiny_model_dir, tiny_sae_dir):
    english = Dataset([item for item in load_items() if item.language == "english"])
    data = export_items(english, tmp_path / "english.jsonl", "jsonl")
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", f"data={data}")
    with pytest.raises(CultureBenchError, match="no train items for morocco in setting 'nonlocalized'"):
        build_plan(config)


def test_validation_reads_no_weights(tmp_path, tiny_model_dir, tiny_sae_dir):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "model.safetensors").write_bytes(b"not safetensors")
    plan = build_plan(tiny_config(model_dir, tiny_sae_dir, tmp_path / "run"))
    assert plan.layer == TINY_LAYER
    assert plan.model.hidden_size == 64
    assert plan.protocol == "ll"
    assert plan.tasks == ["culture_arabic_morocco_both_ll"]


def test_chat_model_gets_boxed_tasks(tmp_path, tiny_sae_dir):
    model_dir = tiny_models.save_pretrained_dir(tmp_path / "chat", chat_template=True)
    plan = build_plan(tiny_config(model_dir, tiny_sae_dir, tmp_path / "run", "judge.spec=openai:gpt-4o-mini"))
    assert plan.protocol == "mcq"
    assert plan.pair_protocol == "boxed"
    assert plan.tasks == ["culture_arabic_morocco_both"]
    assert plan.open_tasks == ["culture_arabic_morocco_both_oe"]


def test_language_scope_evaluates_the_group(tmp_path, tiny_model_dir, tiny_sae_dir):
    plan = build_plan(tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "eval.scope=language"))
    assert plan.tasks == ["culture_arabic_both_ll"]


def test_plan_lists_vectors_and_evaluations(tmp_path, tiny_model_dir, tiny_sae_dir):
    plan = build_plan(tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "settings=localized,both",
                                  "multipliers.sas=3"))
    assert [job.name for job in plan.vectors] == [
        f"{method}-morocco-{setting}" for setting in ("localized", "both") for method in ("caa", "sas", "bipo", "yapo")
    ]
    assert [job.name for job in plan.evals] == ["baseline"] + [job.name for job in plan.vectors]
    assert {job.name: job.multiplier for job in plan.evals}["sas-morocco-both"] == 3.0


def test_default_configuration_plans_the_demo(tmp_path):
    plan = build_plan(load_config(out=tmp_path / "run"))
    assert plan.model.model_id == "google/gemma-3-270m"
    assert plan.sae.spec == str(default_sae_path("default"))
    assert plan.layer == plan.sae.layer
    assert plan.protocol == "ll"
    assert plan.tasks == ["culture_arabic_morocco_both_ll"]
    assert [job.name for job in plan.vectors] == [f"{method}-morocco-both" for method in ("caa", "sas", "bipo", "yapo")]
    assert len(plan.evals) == 5


def test_default_model_gets_preset_rate_and_multipliers(tmp_path):
    from culturebench.model_presets import get_preset

    preset = get_preset("default")
    config = load_config(out=tmp_path / "run")
    plan = build_plan(config)

    assert config.train.learning_rate == preset.learning_rate
    assert {job.method: job.multiplier for job in plan.evals[1:]} == {
        method: preset.multipliers.get(method, 1.0) for method in ("caa", "sas", "bipo", "yapo")}


def test_model_without_preset_gets_reference_defaults(tmp_path, tiny_model_dir, tiny_sae_dir):
    config = tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run")
    plan = build_plan(config)

    assert config.train.learning_rate == 5e-4
    assert all(job.multiplier == 1.0 for job in plan.evals[1:])


def test_given_rate_and_multiplier_win_over_preset(tmp_path):
    config = load_config(out=tmp_path / "run", overrides=["train.learning_rate=0.01", "multipliers.caa=2"])
    plan = build_plan(config)

    assert config.train.learning_rate == 0.01
    assert {job.method: job.multiplier for job in plan.evals[1:]}["caa"] == 2.0


def test_nonpositive_learning_rate_is_rejected(tmp_path, tiny_model_dir, tiny_sae_dir):
    with pytest.raises(CultureBenchError, match="train.learning_rate must be positive, got 0.0"):
        build_plan(tiny_config(tiny_model_dir, tiny_sae_dir, tmp_path / "run", "train.learning_rate=0"))
