"""The differentiable transforms of block-L hidden states that BiPO and YaPO train through.

- BiPO (dense): h ↦ h + d·v.
- YaPO (sparse): h ↦ Φ(h, d·v) = h + Dec(ReLU(Enc(h) + d·v)) − Dec(Enc(h)), the same value as
  `sparse.phi` for SAEs with an affine decoder. Written as h plus a difference, it returns h
  exactly when v = 0, so the steered policy at initialisation equals the unsteered reference.

The vector is fp32 whatever the model dtype; the steered states are cast back to the hidden
dtype. The SAE math runs in fp32 with autocast disabled, so bf16 autocast on the model does
not round the small vector entries away.
"""

from __future__ import annotations

import torch
from torch import Tensor

from culturebench.steering.hooks import Transform

METHODS = ("bipo", "yapo")
# sae-lens normalisations whose decode reads a norm stored by the preceding encode.
_STATEFUL_NORMALISATIONS = {"constant_norm_rescale", "layer_norm"}


def dense_transform(vector: Tensor, direction: int) -> Transform:
    """Make h ↦ h + direction·vector, differentiable with respect to `vector`."""
    # NOTE: with bf16 hidden states, entries of v below the bf16 spacing of the value they are
    # added to round away in the forward pass, while the gradient still flows through the cast.

    def transform(hidden: Tensor) -> Tensor:
        return (hidden.float() + direction * vector).to(hidden.dtype)

    return transform


def sparse_transform(sae, vector: Tensor, direction: int) -> Transform:
    """Make h ↦ Φ(h, direction·vector) for a sae-lens SAE, differentiable with respect to `vector`."""
    stateful = sae.cfg.normalize_activations in _STATEFUL_NORMALISATIONS

    def transform(hidden: Tensor) -> Tensor:
        with torch.autocast(hidden.device.type, enabled=False):
            x = hidden.to(sae.W_dec.dtype)
            code = sae.encode(x)
            steered = sae.decode(torch.relu(code + (direction * vector).to(code.dtype)))
            if stateful:
                sae.encode(x)
            reconstruction = sae.decode(code)
            return (x + (steered - reconstruction)).to(hidden.dtype)

    return transform


def make_transform(method: str, vector: Tensor, direction: int, sae=None) -> Transform:
    """Return the training transform of `method` (`bipo` or `yapo`) for one step's direction."""
    if method == "bipo":
        return dense_transform(vector, direction)
    if sae is None:
        raise ValueError("yapo needs an SAE")
    return sparse_transform(sae, vector, direction)
