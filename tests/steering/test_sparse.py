"""The sparse transform Φ: restricted form equals the full form, gradients reach the vector."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from culturebench.steering.sparse import (
    SparseSteering, phi, phi_restricted, restricted_mode, supports_restricted,
)
from tests.steering.sae_fixtures import D_IN, D_SAE, build_sae

SAES = {name: build_sae(name) for name in ("standard", "jumprelu", "topk")}


def _sparse_vector(seed: int, support_size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    vector = torch.zeros(D_SAE)
    support = torch.randperm(D_SAE, generator=generator)[:support_size]
    vector[support] = (torch.rand(support_size, generator=generator) - 0.5) * 6
    return vector


@settings(max_examples=40, deadline=None)
@given(
    architecture=st.sampled_from(["standard", "jumprelu"]),
    seed=st.integers(0, 10_000),
    support_size=st.integers(1, 40),
    scale=st.floats(0.1, 20.0),
)
def test_restricted_matches_full(architecture, seed, support_size, scale):
    sae = SAES[architecture]
    generator = torch.Generator().manual_seed(seed + 1)
    hidden = torch.randn(3, 5, D_IN, generator=generator) * scale
    vector = _sparse_vector(seed, support_size)

    full = phi(hidden, vector, sae)
    restricted = phi_restricted(hidden, vector, sae)
    precomputed = SparseSteering(sae, vector)(hidden)

    bound = 1e-4 * hidden.norm(dim=-1, keepdim=True)
    assert bool(((full - restricted).abs() <= bound).all())
    assert bool(((full - precomputed).abs() <= bound).all())


def test_restricted_form_changes_states():
    sae = SAES["jumprelu"]
    hidden = torch.randn(2, 4, D_IN)
    vector = _sparse_vector(0, 20)
    assert not torch.allclose(SparseSteering(sae, vector)(hidden), hidden, atol=1e-3)


@pytest.mark.parametrize("rescale", [False, True])
def test_topk_restricts_only_decode(rescale):
    sae = build_sae("topk")
    sae.cfg.rescale_acts_by_decoder_norm = rescale
    assert not supports_restricted(sae)
    assert restricted_mode(sae) == "decode"
    hidden = torch.randn(2, 4, D_IN) * 3
    vector = _sparse_vector(3, 10)
    steering = SparseSteering(sae, vector)
    assert steering.mode == "decode"
    bound = 1e-4 * hidden.norm(dim=-1, keepdim=True)
    assert bool(((steering(hidden) - phi(hidden, vector, sae)).abs() <= bound).all())
    assert not torch.allclose(steering(hidden), hidden, atol=1e-3)
    torch.testing.assert_close(phi_restricted(hidden, vector, sae), phi(hidden, vector, sae))


def test_full_form_when_not_restricted():
    sae = SAES["jumprelu"]
    hidden = torch.randn(2, 4, D_IN)
    vector = _sparse_vector(4, 10)
    steering = SparseSteering(sae, vector, restricted=False)
    assert not steering.restricted
    torch.testing.assert_close(steering(hidden), phi(hidden, vector, sae))


@pytest.mark.parametrize("architecture", ["standard", "jumprelu", "topk"])
def test_zero_vector_keeps_states(architecture):
    sae = SAES[architecture]
    hidden = torch.randn(2, 4, D_IN)
    assert torch.equal(SparseSteering(sae, _sparse_vector(1, 10), 0.0)(hidden), hidden)
    assert torch.equal(phi_restricted(hidden, torch.zeros(D_SAE), sae), hidden)
    torch.testing.assert_close(phi(hidden, torch.zeros(D_SAE), sae), hidden, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("architecture", ["standard", "jumprelu", "topk"])
def test_gradient_reaches_vector(architecture):
    sae = SAES[architecture]
    hidden = torch.randn(2, 4, D_IN)
    vector = torch.zeros(D_SAE, requires_grad=True)
    phi(hidden, vector, sae).pow(2).sum().backward()
    assert vector.grad is not None
    assert vector.grad.dtype == torch.float32
    assert int((vector.grad != 0).sum()) > 0
    assert not any(parameter.grad is not None for parameter in sae.parameters())


def test_output_keeps_hidden_dtype():
    sae = SAES["jumprelu"]
    hidden = torch.randn(2, 3, D_IN).to(torch.bfloat16)
    vector = _sparse_vector(2, 8)
    assert phi(hidden, vector, sae).dtype == torch.bfloat16
    assert SparseSteering(sae, vector)(hidden).dtype == torch.bfloat16


def test_vector_size_checked():
    with pytest.raises(ValueError, match="expected \\(256,\\)"):
        SparseSteering(SAES["standard"], torch.zeros(D_IN))
