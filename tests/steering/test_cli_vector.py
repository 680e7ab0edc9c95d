"""`culturebench vector inspect` and `vector import`."""

from __future__ import annotations

import json

import pytest
import torch

from culturebench.cli import main
from culturebench.steering.sae import load_sae
from culturebench.steering.vectors import SteeringVector, load_vector, save_vector
from tests.steering.sae_fixtures import D_SAE, build_sae


def _sparse_file(tmp_path):
    build_sae("jumprelu", layer=1).save_model(tmp_path / "sae")
    _, source = load_sae(tmp_path / "sae")
    vector = torch.zeros(D_SAE)
    vector[[5, 9, 200]] = torch.tensor([0.5, -2.0, 1.0])
    return save_vector(
        SteeringVector(vector=vector, method="sas", layer=1, space="sae", model_id="google/gemma-3-270m",
                       hookpoint="model.layers.1", sae=source, country="mexico", extra={"tau": "0.7"}),
        tmp_path / "sas.safetensors",
    )


def test_inspect_json(tmp_path, capsys):
    path = _sparse_file(tmp_path)
    assert main(["vector", "inspect", str(path), "--json", "--top-k", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "sas"
    assert summary["space"] == "sae"
    assert summary["l0"] == 3
    assert summary["norm"] == pytest.approx(5.25 ** 0.5, rel=1e-6)
    assert summary["top"] == [{"index": 9, "weight": -2.0}, {"index": 200, "weight": 1.0}]
    assert summary["metadata"]["country"] == "mexico"
    assert summary["metadata"]["sae"]["d_sae"] == D_SAE
    assert summary["metadata"]["extra"] == {"tau": "0.7"}


def test_inspect_text(tmp_path, capsys):
    path = _sparse_file(tmp_path)
    assert main(["vector", "inspect", str(path)]) == 0
    output = capsys.readouterr().out
    assert "L0       3" in output
    assert "latent       9  -2.0000" in output
    assert "country: mexico" in output


def test_inspect_missing_file(tmp_path, capsys):
    assert main(["vector", "inspect", str(tmp_path / "none.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err


def test_import_raw_tensor(tmp_path, tiny_model_dir):
    torch.save(torch.ones(1, 64), tmp_path / "raw.pt")
    out = tmp_path / "raw.safetensors"
    assert main(["vector", "import", str(tmp_path / "raw.pt"), "--method", "bipo", "--layer", "2",
                 "--model", str(tiny_model_dir), "--space", "dense", "--out", str(out)]) == 0
    vector = load_vector(out)
    assert (vector.method, vector.layer, vector.space) == ("bipo", 2, "dense")
    assert vector.model_id == str(tiny_model_dir)
    assert torch.equal(vector.vector, torch.ones(64))


def test_import_rejects_wrong_size(tmp_path, tiny_model_dir, capsys):
    torch.save(torch.ones(10), tmp_path / "raw.pt")
    code = main(["vector", "import", str(tmp_path / "raw.pt"), "--method", "bipo", "--layer", "2",
                 "--model", str(tiny_model_dir), "--space", "dense", "--out", str(tmp_path / "x.safetensors")])
    assert code == 2
    assert "has 10 entries but model" in capsys.readouterr().err


def _import_args(tmp_path, model: str, layer: int) -> list[str]:
    return ["vector", "import", str(tmp_path / "raw.pt"), "--method", "bipo", "--layer", str(layer),
            "--model", model, "--space", "dense", "--out", str(tmp_path / "x.safetensors")]


@pytest.mark.parametrize("layer", [4, -1])
def test_import_rejects_layer_out_of_range(tmp_path, tiny_model_dir, capsys, layer):
    torch.save(torch.ones(64), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, str(tiny_model_dir), layer)) == 2
    error = capsys.readouterr().err
    assert f"invalid --layer {layer}" in error
    assert "4 decoder blocks" in error
    assert "0 to 3" in error
    assert not (tmp_path / "x.safetensors").exists()


def test_import_preset_layer_checked_offline(tmp_path, monkeypatch, capsys):
    # The preset table gives the shape, so the HF-format cache of `default` is never built.
    monkeypatch.setenv("CULTUREBENCH_CACHE", str(tmp_path / "cache"))
    torch.save(torch.ones(640), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, "default", 18)) == 2
    assert "0 to 17" in capsys.readouterr().err

    assert main(_import_args(tmp_path, "default", 17)) == 0
    assert load_vector(tmp_path / "x.safetensors").model_id == "google/gemma-3-270m"
    assert not (tmp_path / "cache").exists()


def test_import_uncached_hub_id_fails_offline(tmp_path, monkeypatch, capsys):
    import socket

    def no_network(*args, **kwargs):
        raise RuntimeError("the test model id must not reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    torch.save(torch.ones(64), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, "culturebench-tests/no-such-model", 2)) == 2
    error = capsys.readouterr().err
    assert "'culturebench-tests/no-such-model'" in error
    assert "not in the local Hugging Face cache" in error
    assert "--num-layers and --hidden-size" in error


def test_import_explicit_shape_skips_config(tmp_path, capsys):
    torch.save(torch.ones(64), tmp_path / "raw.pt")
    args = _import_args(tmp_path, "culturebench-tests/no-such-model", 5)
    assert main(args + ["--num-layers", "4", "--hidden-size", "64"]) == 2
    assert "0 to 3" in capsys.readouterr().err

    args = _import_args(tmp_path, "culturebench-tests/no-such-model", 3)
    assert main(args + ["--num-layers", "4", "--hidden-size", "64"]) == 0


@pytest.mark.parametrize(("option", "value", "actual"), [("--num-layers", "100", "18"), ("--hidden-size", "10", "640")])
def test_import_rejects_shape_contradicting_preset(tmp_path, capsys, option, value, actual):
    torch.save(torch.ones(640), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, "default", 5) + [option, value]) == 2
    assert f"{option} {value} contradicts preset 'default', which has {actual}" in capsys.readouterr().err


def test_import_rejects_non_finite_values(tmp_path, tiny_model_dir, capsys):
    torch.save(torch.full((64,), float("nan")), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, str(tiny_model_dir), 2)) == 2
    assert "contains NaN or infinite values" in capsys.readouterr().err

    torch.save(torch.ones(64), tmp_path / "raw.pt")
    assert main(_import_args(tmp_path, str(tiny_model_dir), 2) + ["--default-multiplier", "nan"]) == 2
    assert "--default-multiplier must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_import_rejects_folder_out(tmp_path, tiny_model_dir, capsys):
    torch.save(torch.ones(64), tmp_path / "raw.pt")
    (tmp_path / "x.safetensors").mkdir()
    assert main(_import_args(tmp_path, str(tiny_model_dir), 2)) == 2
    assert "x.safetensors" in capsys.readouterr().err
