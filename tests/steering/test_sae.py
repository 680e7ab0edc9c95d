"""SAE loading (sae-lens folder, Gemma Scope params.npz, releases) and model checks."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.sae import (
    check_sae_matches_model, hook_name_to_layer, load_gemma_scope_npz, load_sae,
)
from tests import tiny_models
from tests.steering.sae_fixtures import D_IN, D_SAE, build_sae


def _write_npz(sae, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {key: value.numpy() for key, value in sae.state_dict().items()}
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("architecture", ["standard", "jumprelu", "topk"])
def test_sae_lens_folder_roundtrip(tmp_path, architecture):
    sae = build_sae(architecture)
    sae.save_model(tmp_path / "sae")
    loaded, source = load_sae(tmp_path / "sae")
    assert type(loaded) is type(sae)
    for name, tensor in sae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert source.d_in == D_IN
    assert source.d_sae == D_SAE
    assert source.hook_name == "blocks.1.hook_resid_post"
    assert source.architecture == architecture
    assert all(not parameter.requires_grad for parameter in loaded.parameters())


def test_gemma_scope_npz_matches_folder(tmp_path):
    sae = build_sae("jumprelu")
    sae.cfg.apply_b_dec_to_input = False
    sae.save_model(tmp_path / "folder")
    npz = _write_npz(sae, tmp_path / "layer_1" / "width_16k" / "params.npz")

    from_npz, npz_source = load_sae(npz)
    from_dir, _ = load_sae(npz.parent)
    from_folder, folder_source = load_sae(tmp_path / "folder")
    hidden = torch.randn(4, D_IN)
    torch.testing.assert_close(from_npz.encode(hidden), from_folder.encode(hidden))
    torch.testing.assert_close(from_dir.decode(from_dir.encode(hidden)), from_folder.decode(from_folder.encode(hidden)))
    assert npz_source.hook_name == "blocks.1.hook_resid_post"
    assert npz_source.sha256 == folder_source.sha256


def test_npz_without_layer_needs_hook(tmp_path):
    npz = _write_npz(build_sae("jumprelu"), tmp_path / "params.npz")
    with pytest.raises(CultureBenchError, match="no layer_N"):
        load_gemma_scope_npz(npz)
    sae = load_gemma_scope_npz(npz, hook_name="blocks.3.hook_resid_post")
    assert sae.cfg.metadata.hook_name == "blocks.3.hook_resid_post"


def test_npz_missing_arrays_rejected(tmp_path):
    path = tmp_path / "layer_2" / "params.npz"
    path.parent.mkdir()
    np.savez(path, W_enc=np.zeros((4, 8), dtype=np.float32))
    with pytest.raises(CultureBenchError, match="missing \\['W_dec'"):
        load_sae(path)


def test_hash_changes_with_weights():
    first = build_sae("standard", seed=0)
    second = build_sae("standard", seed=1)
    from culturebench.steering.sae import weights_sha256

    assert weights_sha256(first) != weights_sha256(second)
    assert weights_sha256(first) == weights_sha256(build_sae("standard", seed=0))


def test_missing_local_path_rejected(tmp_path):
    with pytest.raises(CultureBenchError, match="not found"):
        load_sae(str(tmp_path / "nothing"))


def test_unknown_release_rejected():
    with pytest.raises(CultureBenchError, match="not in the sae-lens pretrained directory"):
        load_sae("no-such-release/layer_1")
    with pytest.raises(CultureBenchError, match="SAE id 'no_such_id' is not in release"):
        load_sae("gemma-scope-2-270m-pt-res/no_such_id")


@pytest.mark.slow
def test_release_offline_message():
    code = (
        "from culturebench.steering.sae import load_sae\n"
        "load_sae('gemma-scope-2-270m-pt-res/layer_12_width_16k_l0_small')\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    assert "could not download SAE gemma-scope-2-270m-pt-res/layer_12_width_16k_l0_small" in result.stderr
    assert "pass a local sae-lens folder" in result.stderr


@pytest.mark.parametrize(
    ("hook", "layer"),
    [("blocks.5.hook_resid_post", 5), ("blocks.5.hook_resid_pre", 4), ("model.layers.7", 7), ("layers.2", 2)],
)
def test_hook_name_to_layer(hook, layer):
    assert hook_name_to_layer(hook) == layer


@pytest.mark.parametrize("hook", ["blocks.5.hook_mlp_out", "blocks.3.attn.hook_z", "blocks.0.hook_resid_pre", "hook_embed"])
def test_non_residual_hooks_rejected(hook):
    with pytest.raises(CultureBenchError, match="not a residual-stream block output"):
        hook_name_to_layer(hook)


def test_sae_checked_against_model(tmp_path):
    layout = find_decoder_layout(tiny_models.build_model("gemma3"))
    build_sae("jumprelu", layer=2).save_model(tmp_path / "ok")
    _, source = load_sae(tmp_path / "ok")
    assert check_sae_matches_model(source, layout) == 2
    with pytest.raises(CultureBenchError, match="reads block 2 .* but layer 1 was requested"):
        check_sae_matches_model(source, layout, layer=1)

    build_sae("jumprelu", d_in=32).save_model(tmp_path / "narrow")
    _, narrow = load_sae(tmp_path / "narrow")
    with pytest.raises(CultureBenchError, match="vectors of size 32 but the model's hidden size is 64"):
        check_sae_matches_model(narrow, layout)

    build_sae("jumprelu", layer=9).save_model(tmp_path / "deep")
    _, deep = load_sae(tmp_path / "deep")
    with pytest.raises(CultureBenchError, match="layer 9 is out of range"):
        check_sae_matches_model(deep, layout)
