"""`culturebench vector compare`: cosine tables, decoded SAE vectors, top latents and support overlap."""

from __future__ import annotations

import json
import math

import pytest
import torch

from culturebench.cli import main
from culturebench.steering.sae import load_sae
from culturebench.steering.vector_compare import cosine, support_overlap, top_entries
from culturebench.steering.vectors import SteeringVector, save_vector
from tests.steering.sae_fixtures import D_IN, D_SAE, build_sae


def _dense(tmp_path, name: str, values: torch.Tensor, method: str = "caa"):
    return save_vector(
        SteeringVector(vector=values, method=method, layer=1, space="dense", model_id="google/gemma-3-270m",
                       hookpoint="model.layers.1", country="mexico", setting="both"),
        tmp_path / f"{name}.safetensors",
    )


def _sparse(tmp_path, name: str, entries: dict[int, float], sae_dir, method: str = "sas"):
    _, source = load_sae(sae_dir)
    values = torch.zeros(D_SAE)
    for index, weight in entries.items():
        values[index] = weight
    return save_vector(
        SteeringVector(vector=values, method=method, layer=1, space="sae", model_id="google/gemma-3-270m",
                       hookpoint="model.layers.1", sae=source),
        tmp_path / f"{name}.safetensors",
    )


@pytest.fixture
def sae_dir(tmp_path):
    build_sae("jumprelu", layer=1).save_model(tmp_path / "sae")
    return tmp_path / "sae"


def test_compare_json(tmp_path, sae_dir, capsys):
    generator = torch.Generator().manual_seed(0)
    first = torch.randn(D_IN, generator=generator)
    caa = _dense(tmp_path, "caa", first)
    bipo = _dense(tmp_path, "bipo", -2 * first, method="bipo")
    sas = _sparse(tmp_path, "sas", {5: 0.5, 9: -2.0, 200: 1.0}, sae_dir)
    yapo = _sparse(tmp_path, "yapo", {9: -1.0, 200: -1.0, 17: 3.0}, sae_dir, method="yapo")
    out = tmp_path / "comparison.json"

    assert main(["vector", "compare", str(caa), str(bipo), str(sas), str(yapo), "--json", "--top-k", "2",
                 "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text(encoding="utf-8")) == result
    assert [entry["name"] for entry in result["vectors"]] == ["caa", "bipo", "sas", "yapo"]

    hidden = result["cosine_hidden"]
    assert hidden[0][1] == pytest.approx(-1.0)
    assert hidden[0][0] == pytest.approx(1.0)
    sae, _ = load_sae(sae_dir)
    sas_values = torch.zeros(D_SAE)
    sas_values[[5, 9, 200]] = torch.tensor([0.5, -2.0, 1.0])
    decoded = sas_values @ sae.W_dec
    assert hidden[0][2] == pytest.approx(float(torch.nn.functional.cosine_similarity(first, decoded, dim=0)), abs=1e-5)
    assert hidden[2][0] == pytest.approx(hidden[0][2])
    assert result["vectors"][2]["hidden_norm"] == pytest.approx(float(decoded.norm()), rel=1e-5)

    latent = result["cosine_latent"]
    assert latent[0][2] is None
    expected = (2.0 * 1.0 - 1.0) / (math.sqrt(5.25) * math.sqrt(11.0))
    assert latent[2][3] == pytest.approx(expected)
    assert result["top_latents"] == {
        "sas": [{"index": 9, "weight": -2.0}, {"index": 200, "weight": 1.0}],
        "yapo": [{"index": 17, "weight": 3.0}, {"index": 9, "weight": -1.0}],
    }
    (overlap,) = result["support_overlap"]
    assert overlap == {"pair": ["sas", "yapo"], "sizes": [3, 3], "shared": 2, "shared_same_sign": 1, "jaccard": 0.5}


def test_compare_text(tmp_path, sae_dir, capsys):
    caa = _dense(tmp_path, "caa", torch.ones(D_IN))
    sas = _sparse(tmp_path, "sas", {5: 0.5}, sae_dir)
    assert main(["vector", "compare", str(caa), str(sas), "--no-decode"]) == 0
    output = capsys.readouterr().out
    assert "[0] caa: caa, layer 1, dense" in output
    assert "cosine in hidden space" in output
    assert "latent       5  +0.5000" in output
    assert "cosine in SAE latent space" in output


def test_compare_rejects_other_sae(tmp_path, sae_dir, capsys):
    sas = _sparse(tmp_path, "sas", {5: 0.5}, sae_dir)
    build_sae("jumprelu", layer=1, seed=3).save_model(tmp_path / "other")
    assert main(["vector", "compare", str(sas), "--sae", str(tmp_path / "other")]) == 2
    assert "pass the SAE it was made with" in capsys.readouterr().err


def test_compare_missing_sae(tmp_path, sae_dir, capsys):
    import shutil

    sas = _sparse(tmp_path, "sas", {5: 0.5}, sae_dir)
    shutil.rmtree(sae_dir)
    assert main(["vector", "compare", str(sas)]) == 2
    assert "--no-decode" in capsys.readouterr().err


def test_same_stem_gets_path_names(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _dense(tmp_path / "a", "caa", torch.ones(D_IN))
    second = _dense(tmp_path / "b", "caa", torch.ones(D_IN))
    assert main(["vector", "compare", str(first), str(second), "--json", "--out", str(tmp_path / "c.json")]) == 0
    names = [entry["name"] for entry in json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["vectors"]]
    assert names == ["caa", str(second)]


def test_helpers_edge_cases():
    assert cosine(torch.zeros(3), torch.ones(3)) is None
    assert cosine(torch.ones(3), torch.ones(4)) is None
    assert cosine(None, torch.ones(4)) is None
    assert top_entries(torch.zeros(4), 3) == []
    assert support_overlap(torch.zeros(4), torch.zeros(4))["jaccard"] is None
