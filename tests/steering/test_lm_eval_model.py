"""steered_hf inside lm-eval: registration, exact λ=0, positions in log-likelihood, file formats."""

from __future__ import annotations

import pytest
import torch
from lm_eval import simple_evaluate
from lm_eval.api.instance import Instance
from lm_eval.api.registry import get_model
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager

from culturebench.errors import CultureBenchError
from culturebench.steering.hooks import Intervention, add_vector, steer
from culturebench.steering.lm_eval_model import SteeredHFLM
from culturebench.steering.sae import load_sae
from culturebench.steering.vectors import SteeringVector, save_vector
from tests import tiny_models
from tests.steering.lm_eval_fixtures import write_tasks
from tests.steering.sae_fixtures import D_SAE, build_sae

LAYER = 1


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def dense_file(tmp_path_factory, tiny_model_dir):
    generator = torch.Generator().manual_seed(3)
    vector = SteeringVector(
        vector=torch.randn(tiny_models.HIDDEN_SIZE, generator=generator) * 4, method="caa", layer=LAYER,
        space="dense", model_id=str(tiny_model_dir), hookpoint=f"model.layers.{LAYER}",
    )
    return save_vector(vector, tmp_path_factory.mktemp("vectors") / "dense.safetensors")


def _evaluate(task_dir, model_args: str, tasks=("tiny_cloze", "tiny_gen")):
    results = simple_evaluate(
        model="steered_hf", model_args=model_args, tasks=list(tasks), batch_size=4, device="cpu",
        task_manager=TaskManager(include_path=str(task_dir)), log_samples=True,
    )
    return {task: [sample["resps"] for sample in samples] for task, samples in results["samples"].items()}


def _plain_hf(task_dir, tiny_model_dir):
    results = simple_evaluate(
        model="hf", model_args=f"pretrained={tiny_model_dir}", tasks=["tiny_cloze", "tiny_gen"], batch_size=4,
        device="cpu", task_manager=TaskManager(include_path=str(task_dir)), log_samples=True,
    )
    return {task: [sample["resps"] for sample in samples] for task, samples in results["samples"].items()}


def test_registered_on_import():
    assert get_model("steered_hf") is SteeredHFLM


@pytest.mark.slow
def test_zero_multiplier_matches_hf(task_dir, tiny_model_dir, dense_file):
    plain = _plain_hf(task_dir, tiny_model_dir)
    zero = _evaluate(task_dir, f"pretrained={tiny_model_dir},vector={dense_file},multiplier=0")
    steered = _evaluate(task_dir, f"pretrained={tiny_model_dir},vector={dense_file},multiplier=4")
    assert zero == plain
    assert steered["tiny_cloze"] != plain["tiny_cloze"]
    assert steered["tiny_gen"] != plain["tiny_gen"]


def _lm(tiny_model_dir, **args) -> SteeredHFLM:
    return SteeredHFLM(pretrained=str(tiny_model_dir), batch_size=3, device="cpu", **args)


REQUESTS = [
    ("What do people eat for breakfast?\nAnswer:", " Ful and taameya"),
    ("What do people eat for breakfast?\nAnswer:", " Toast"),
    ("¿Qué se suele desayunar entre semana?\nAnswer:", " Tostadas con tomate"),
    ("लोग आमतौर पर नाश्ते में क्या खाते हैं?", " पराठा और चाय"),
]


def _loglikelihoods(lm) -> list[float]:
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=index)
        for index, pair in enumerate(REQUESTS)
    ]
    return [value for value, _ in lm.loglikelihood(instances, disable_tqdm=True)]


def _reference_loglikelihoods(lm, vector: torch.Tensor, policy: str) -> list[float]:
    """Score each request alone, steering by an explicit mask of its continuation tokens."""
    values = []
    for context, continuation in REQUESTS:
        # lm-eval encodes context and continuation together and splits the ids.
        context_ids, continuation_ids = lm._encode_pair(context, continuation)
        ids = torch.tensor([context_ids + continuation_ids])[:, :-1]
        generated = torch.zeros(ids.shape, dtype=torch.bool)
        generated[0, len(context_ids):] = True
        with torch.no_grad(), steer(lm.model, [Intervention(LAYER, add_vector(vector, 4.0), policy)]) as handle:
            with handle.generated_positions(generated):
                logits = lm.model(ids).logits.log_softmax(-1)[0]
        targets = torch.tensor(continuation_ids)
        scored = logits[len(context_ids) - 1:].gather(-1, targets[:, None])
        values.append(float(scored.sum()))
    return values


@pytest.mark.parametrize("policy", ["prompt", "generated"])
def test_loglikelihood_positions(tiny_model_dir, dense_file, policy):
    lm = _lm(tiny_model_dir, vector=str(dense_file), multiplier=4.0, positions=policy)
    from culturebench.steering.vectors import load_vector

    vector = load_vector(dense_file).vector
    observed = _loglikelihoods(lm)
    lm.set_multiplier(0)
    expected = _reference_loglikelihoods(lm, vector, policy)
    unsteered = _loglikelihoods(lm)
    assert observed == pytest.approx(expected, abs=2e-3)
    assert observed != pytest.approx(unsteered, abs=1e-3)


def test_set_multiplier_reuses_model(tiny_model_dir, dense_file):
    lm = _lm(tiny_model_dir, vector=str(dense_file), multiplier=0)
    model = lm.model
    base = _loglikelihoods(lm)
    lm.set_multiplier(4.0)
    steered = _loglikelihoods(lm)
    lm.set_multiplier(0.0)
    assert lm.model is model
    assert _loglikelihoods(lm) == base
    assert steered != base
    hooks = sum(len(module._forward_hooks) for module in model.modules())
    assert hooks == 0


def test_lm_eval_dictionary_equals_vector_file(tiny_model_dir, dense_file, tmp_path):
    from culturebench.steering.vectors import load_vector

    vector = load_vector(dense_file).vector
    torch.save({f"layers.{LAYER}": {"steering_vector": vector, "steering_coefficient": 2.0, "action": "add"}},
               tmp_path / "steer.pt")
    from_dict = _loglikelihoods(_lm(tiny_model_dir, vector=str(tmp_path / "steer.pt"), multiplier=2.0))
    from_file = _loglikelihoods(_lm(tiny_model_dir, vector=str(dense_file), multiplier=4.0))
    assert from_dict == pytest.approx(from_file, abs=1e-5)


def test_sae_vector_restricted_and_full(tiny_model_dir, tmp_path):
    build_sae("jumprelu", layer=LAYER).save_model(tmp_path / "sae")
    _, source = load_sae(tmp_path / "sae")
    vector = torch.zeros(D_SAE)
    vector[torch.arange(0, D_SAE, 16)] = 3.0
    path = save_vector(
        SteeringVector(vector=vector, method="sas", layer=LAYER, space="sae", model_id=str(tiny_model_dir),
                       hookpoint=f"model.layers.{LAYER}", sae=source),
        tmp_path / "sas.safetensors",
    )
    restricted = _loglikelihoods(_lm(tiny_model_dir, vector=str(path), multiplier=2.0))
    full = _loglikelihoods(_lm(tiny_model_dir, vector=str(path), multiplier=2.0, restricted="false"))
    plain = _loglikelihoods(_lm(tiny_model_dir, vector=str(path), multiplier=0))
    assert restricted == pytest.approx(full, abs=1e-3)
    assert restricted != pytest.approx(plain, abs=1e-3)


def test_mismatched_model_rejected(tiny_model_dir, tmp_path):
    vector = SteeringVector(vector=torch.ones(tiny_models.HIDDEN_SIZE), method="caa", layer=LAYER, space="dense",
                            model_id="google/gemma-2-2b", hookpoint="model.layers.1")
    path = save_vector(vector, tmp_path / "other.safetensors")
    with pytest.raises(CultureBenchError, match="made for model 'google/gemma-2-2b'"):
        _lm(tiny_model_dir, vector=str(path))
    assert _lm(tiny_model_dir, vector=str(path), check_model="false").multipliers == [1.0]


def test_multiplier_list_per_file(tiny_model_dir, dense_file):
    lm = _lm(tiny_model_dir, vector=f"{dense_file};{dense_file}", multiplier="1;0.5")
    assert lm.multipliers == [1.0, 0.5]
    with pytest.raises(CultureBenchError, match="3 multipliers were given for 2 vector files"):
        lm.set_multiplier([1, 2, 3])


def test_model_info_records_absolute_vector(tiny_model_dir, dense_file, monkeypatch):
    monkeypatch.chdir(dense_file.parent.parent)
    relative = f"{dense_file.parent.name}/{dense_file.name}"
    lm = _lm(tiny_model_dir, vector=relative, multiplier=2.0)
    monkeypatch.setattr(HFLM, "get_model_info", lambda self: {"model_dtype": "float32"})

    info = lm.get_model_info()
    assert info["model_dtype"] == "float32"
    assert info["steering_vectors"] == [str(dense_file.resolve())]
    assert info["steering_methods"] == ["caa"]
    assert info["steering_multipliers"] == [2.0]
    assert info["steering_positions"] == "all"
