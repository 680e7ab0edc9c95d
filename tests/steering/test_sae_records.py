"""How vector files record their SAE, and how the recorded SAE is found again on another machine."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.models import default_sae_path
from culturebench.steering import sae as sae_module
from culturebench.steering.apply import SteeringSet
from culturebench.steering.sae import load_sae, recorded_sae_spec
from culturebench.steering.vectors import SteeringVector, load_vector, save_vector
from tests import tiny_models
from tests.steering.sae_fixtures import D_SAE, build_sae

BUNDLED_NAME = "tiny-sae"


def install_bundled(monkeypatch, root, seed: int = 0):
    """Make `root` this installation's bundled SAE folder, holding one tiny SAE named BUNDLED_NAME."""
    build_sae("jumprelu", layer=1, seed=seed).save_model(root / BUNDLED_NAME)
    monkeypatch.setattr(sae_module, "SAE_DATA_DIR", root)
    return root / BUNDLED_NAME


def save_sae_vector(path, source) -> None:
    vector = torch.zeros(D_SAE)
    vector[3] = 1.0
    save_vector(SteeringVector(vector=vector, method="sas", layer=1, space="sae", model_id="tiny/gemma2",
                               hookpoint="model.layers.1", sae=source), path)


def test_default_bundled_sae_recorded_by_name():
    path = default_sae_path("default")
    _, source = load_sae(str(path))
    assert source.spec == path.name
    assert "/" not in source.spec

    _, by_name = load_sae(path.name)
    assert by_name.spec == path.name
    assert by_name.sha256 == source.sha256


def test_user_folder_recorded_as_given(tmp_path, monkeypatch):
    build_sae("jumprelu", layer=1).save_model(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    _, source = load_sae("mine")
    assert source.spec == "mine"
    assert recorded_sae_spec(source) == "mine"


def test_bundled_vector_loads_in_other_installation(tmp_path, monkeypatch):
    first = install_bundled(monkeypatch, tmp_path / "venv-a")
    _, source = load_sae(str(first))
    assert source.spec == BUNDLED_NAME
    save_sae_vector(tmp_path / "sas.safetensors", source)

    shutil.rmtree(tmp_path / "venv-a")
    second = install_bundled(monkeypatch, tmp_path / "venv-b")
    monkeypatch.chdir(tmp_path)
    vector = load_vector(tmp_path / "sas.safetensors")
    assert vector.sae.spec == BUNDLED_NAME
    assert recorded_sae_spec(vector.sae) == str(second)

    steering = SteeringSet(tiny_models.build_model("gemma2"), [tmp_path / "sas.safetensors"])
    assert steering.files[0].sae is not None


def test_old_absolute_sae_path_falls_back_to_bundled(tmp_path, monkeypatch):
    first = install_bundled(monkeypatch, tmp_path / "venv-a")
    _, source = load_sae(str(first))
    old_source = dataclasses.replace(source, spec=str(first.resolve()))
    save_sae_vector(tmp_path / "old.safetensors", old_source)

    shutil.rmtree(tmp_path / "venv-a")
    second = install_bundled(monkeypatch, tmp_path / "venv-b")
    vector = load_vector(tmp_path / "old.safetensors")
    assert vector.sae.spec == str(first.resolve())
    assert recorded_sae_spec(vector.sae) == str(second)

    steering = SteeringSet(tiny_models.build_model("gemma2"), [tmp_path / "old.safetensors"])
    assert steering.files[0].sae is not None


def test_fallback_rejects_other_bundled_weights(tmp_path, monkeypatch):
    first = install_bundled(monkeypatch, tmp_path / "venv-a")
    _, source = load_sae(str(first))
    save_sae_vector(tmp_path / "old.safetensors", dataclasses.replace(source, spec=str(first.resolve())))

    shutil.rmtree(tmp_path / "venv-a")
    install_bundled(monkeypatch, tmp_path / "venv-b", seed=1)
    with pytest.raises(CultureBenchError, match="weights sha256"):
        SteeringSet(tiny_models.build_model("gemma2"), [tmp_path / "old.safetensors"])


def test_missing_sae_names_bundled_choices(tmp_path, monkeypatch):
    install_bundled(monkeypatch, tmp_path / "venv")
    with pytest.raises(CultureBenchError, match=f"not found.*bundled SAE \\({BUNDLED_NAME}\\)"):
        load_sae("no-such-sae")


def test_vector_compare_decodes_old_bundled_vector(tmp_path, monkeypatch, capsys):
    from culturebench.cli import main

    first = install_bundled(monkeypatch, tmp_path / "venv-a")
    _, source = load_sae(str(first))
    save_sae_vector(tmp_path / "old.safetensors", dataclasses.replace(source, spec=str(first.resolve())))
    shutil.rmtree(tmp_path / "venv-a")
    install_bundled(monkeypatch, tmp_path / "venv-b")

    assert main(["vector", "compare", str(tmp_path / "old.safetensors"), "--json", "--top-k", "1"]) == 0
    [summary] = json.loads(capsys.readouterr().out)["vectors"]
    assert summary["hidden_norm"] is not None
