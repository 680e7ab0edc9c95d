"""Vector files: symmetric save/load, compatibility checks and safe imports."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from culturebench.errors import CultureBenchError
from culturebench.steering.imports import read_lm_eval_steer, read_raw_tensor
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.sae import load_sae
from culturebench.steering.vectors import SteeringVector, check_vector, load_vector, same_model_id, save_vector
from tests import tiny_models
from tests.steering.sae_fixtures import D_SAE, build_sae


@pytest.fixture(scope="module")
def layout():
    return find_decoder_layout(tiny_models.build_model("gemma2"))


@pytest.fixture(scope="module")
def sae_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sae") / "layer_1"
    build_sae("jumprelu", layer=1).save_model(folder)
    return load_sae(folder)[1]


def _dense(**changes) -> SteeringVector:
    values = dict(
        vector=torch.randn(tiny_models.HIDDEN_SIZE), method="caa", layer=1, space="dense",
        model_id="tiny/gemma2", hookpoint="model.layers.1",
    )
    values.update(changes)
    return SteeringVector(**values)


def test_dense_roundtrip(tmp_path):
    original = _dense(
        model_revision="abc123", default_multiplier=2.5, training_data_sha256="f" * 64, country="morocco",
        setting="nonlocalized", steps=100, final_loss=0.25, extra={"positions": "answer tokens"},
    )
    path = save_vector(original, tmp_path / "v.safetensors")
    loaded = load_vector(path)
    assert torch.equal(loaded.vector, original.vector)
    for name in ("method", "layer", "space", "model_id", "hookpoint", "model_revision", "default_multiplier",
                 "training_data_sha256", "country", "setting", "steps", "final_loss", "culturebench_version", "extra"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert not list(tmp_path.glob(".*tmp"))


def test_sae_roundtrip(tmp_path, sae_source):
    vector = torch.zeros(D_SAE)
    vector[[3, 7]] = torch.tensor([1.5, -0.5])
    original = _dense(vector=vector, method="sas", space="sae", sae=sae_source, extra={"tau": "0.7"})
    loaded = load_vector(save_vector(original, tmp_path / "s.safetensors"))
    assert loaded.sae == sae_source
    assert loaded.l0 == 2
    assert loaded.extra == {"tau": "0.7"}


def test_header_is_readable(tmp_path):
    from safetensors import safe_open

    path = save_vector(_dense(country="egypt"), tmp_path / "v.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata()
    assert header["format"] == "culturebench-steering-vector"
    assert header["country"] == "egypt"
    assert header["layer"] == "1"
    assert "setting" not in header


def test_foreign_safetensors_rejected(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"vector": torch.zeros(4)}, str(path))
    with pytest.raises(CultureBenchError, match="not a culturebench steering vector"):
        load_vector(path)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        load_vector(tmp_path / "none.safetensors")


def test_check_accepts_matching(layout, sae_source):
    check_vector(_dense(), layout, model_id="/models/gemma2")
    sparse = _dense(vector=torch.ones(D_SAE), space="sae", sae=sae_source)
    check_vector(sparse, layout, model_id="tiny/gemma2", sae=sae_source)


def test_check_rejects_mismatches(layout, sae_source, tmp_path):
    with pytest.raises(CultureBenchError, match="has 32 entries but the model's hidden size is 64"):
        check_vector(_dense(vector=torch.ones(32)), layout)
    with pytest.raises(CultureBenchError, match="layer 7 is out of range"):
        check_vector(_dense(layer=7), layout)
    with pytest.raises(CultureBenchError, match="made for model 'tiny/gemma2' but the model in use is 'llama'"):
        check_vector(_dense(), layout, model_id="llama")

    sparse = _dense(vector=torch.ones(D_SAE), space="sae", sae=sae_source)
    with pytest.raises(CultureBenchError, match="load its SAE"):
        check_vector(sparse, layout)
    build_sae("jumprelu", layer=1, seed=5).save_model(tmp_path / "other")
    other = load_sae(tmp_path / "other")[1]
    with pytest.raises(CultureBenchError, match="weights sha256"):
        check_vector(sparse, layout, sae=other)


def test_sae_vector_size_checked(sae_source):
    with pytest.raises(CultureBenchError, match="has 10 entries but the SAE has d_sae 256"):
        _dense(vector=torch.ones(10), space="sae", sae=sae_source)


def test_model_id_comparison():
    assert same_model_id("google/gemma-3-270m", "/cache/Gemma-3-270M/")
    assert not same_model_id("google/gemma-3-270m", "google/gemma-3-1b")


def test_raw_tensor_import(tmp_path):
    torch.save(torch.arange(6.0).reshape(1, 6), tmp_path / "a.pt")
    assert read_raw_tensor(tmp_path / "a.pt").tolist() == [0, 1, 2, 3, 4, 5]
    torch.save({"steering": torch.ones(3)}, tmp_path / "b.pt")
    assert read_raw_tensor(tmp_path / "b.pt").shape == (3,)
    torch.save(torch.ones(2, 3), tmp_path / "c.pt")
    with pytest.raises(CultureBenchError, match="not a vector"):
        read_raw_tensor(tmp_path / "c.pt")


class _Payload:
    def __reduce__(self):
        return (print, ("this code should never run",))


def test_pickles_never_executed(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"layers.1": _Payload()}, handle)
    with pytest.raises(CultureBenchError, match="weights_only=True"):
        read_raw_tensor(path)
    with pytest.raises(CultureBenchError, match="weights_only=True"):
        read_lm_eval_steer(path)
    assert "should never run" not in capsys.readouterr().out


def test_lm_eval_dictionary_read(tmp_path):
    vector = torch.randn(tiny_models.HIDDEN_SIZE)
    torch.save(
        {
            "layers.1": {"steering_vector": vector, "steering_coefficient": 3.0, "action": "add", "bias": None, "head_index": None},
            "layers.2": {"steering_vector": vector, "steering_coefficient": 5.0, "action": "clamp", "bias": torch.ones(64)},
        },
        tmp_path / "steer.pt",
    )
    add, clamp = read_lm_eval_steer(tmp_path / "steer.pt")
    assert (add.layer, add.action, add.coefficient) == (1, "add", 3.0)
    assert (clamp.layer, clamp.action) == (2, "clamp")

    hidden = torch.randn(2, 3, 64)
    torch.testing.assert_close(add.transform(2.0)(hidden), hidden + 6.0 * vector)
    unit = vector / vector.norm()
    clamped = clamp.transform()(hidden)
    torch.testing.assert_close(((clamped - 1.0) * unit).sum(-1), torch.full((2, 3), 5.0))


def test_lm_eval_dictionary_rejects_heads(tmp_path):
    torch.save({"layers.1": {"steering_vector": torch.ones(4), "head_index": 2}}, tmp_path / "h.pt")
    with pytest.raises(CultureBenchError, match="head_index"):
        read_lm_eval_steer(tmp_path / "h.pt")
    torch.save({"layers.1": {"steering_vector": torch.ones(4), "action": "scale"}}, tmp_path / "a.pt")
    with pytest.raises(CultureBenchError, match="unknown action 'scale'"):
        read_lm_eval_steer(tmp_path / "a.pt")
