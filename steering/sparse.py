"""The sparse steering transform Φ on SAE codes, in full and support-restricted form.

    Φ(h, v) = Dec(ReLU(Enc(h) + v)) + (h − Dec(Enc(h)))

`v` lives in SAE latent space (d_sae entries). The second bracket is the SAE's reconstruction
error, so Φ(h, 0) = h up to rounding. Because Dec is affine, Φ(h, v) = h + (ReLU(z + v) − z)·W_dec
with z = Enc(h) (after any output de-normalisation). For element-wise encoders (ReLU, JumpReLU)
the bracket is zero outside supp(v), so only the columns of W_enc and the rows of W_dec on the
support are needed: that is the restricted form, exact in value. A TopK encoder's code at one
latent depends on all the others, so TopK SAEs run the full encode and restrict only the decode.
Other architectures, and SAEs with per-input normalisation, use the full form.

The restricted form is for inference with a fixed `v`: its gradient is zero outside supp(v),
whereas the full form has non-zero gradients there. Training therefore uses `phi`.
"""

from __future__ import annotations

import torch
from torch import Tensor

# sae-lens classes whose encoder acts on each latent separately (checked by exact class name,
# so training variants and subclasses with other encoders fall back to the full form).
_ELEMENTWISE = {"StandardSAE": "standard", "JumpReLUSAE": "jumprelu"}
# Input normalisations that are the identity at inference in sae-lens 6.
_IDENTITY_NORMALISATIONS = {"none", "expected_average_only_in", None}
_STATEFUL_NORMALISATIONS = {"constant_norm_rescale", "layer_norm"}


def encode(sae, hidden: Tensor) -> Tensor:
    """Return the SAE code `Enc(h)` (computed in the SAE's dtype)."""
    return sae.encode(hidden.to(sae.W_dec.dtype))


def decode(sae, code: Tensor) -> Tensor:
    """Return the reconstruction `Dec(z)` (in the SAE's dtype)."""
    return sae.decode(code)


def phi(hidden: Tensor, vector: Tensor, sae) -> Tensor:
    """Apply Φ(h, v) in full form; differentiable with respect to `vector` (and `hidden`).

    Args:
        hidden: hidden states (..., d_in), any dtype; the result has the same dtype.
        vector: the latent-space vector (d_sae,), broadcast over positions.
        sae: a sae-lens SAE.

    Example:
        >>> steered = phi(h.float(), v, sae)  # v.requires_grad_() to train it
    """
    x = hidden.to(sae.W_dec.dtype)
    code = sae.encode(x)
    steered = sae.decode(torch.relu(code + vector.to(code.dtype)))
    if sae.cfg.normalize_activations in _STATEFUL_NORMALISATIONS:
        # sae-lens keeps the per-input norm from `encode` for exactly one `decode` call.
        code = sae.encode(x)
    reconstruction = sae.decode(code)
    return (steered + (x - reconstruction)).to(hidden.dtype)


def restricted_mode(sae) -> str | None:
    """Return how Φ of this SAE can use supp(v) without changing its value.

    `"support"`: encode and decode only the support (element-wise encoders); `"decode"`: full
    encode, decode only the support (TopK); None: only the full form is exact.
    """
    cfg = sae.cfg
    if cfg.normalize_activations not in _IDENTITY_NORMALISATIONS:
        return None
    if getattr(cfg, "reshape_activations", "none") != "none":
        return None
    name = type(sae).__name__
    if name in _ELEMENTWISE:
        return "support"
    if name == "TopKSAE":
        return "decode"
    return None


def supports_restricted(sae) -> bool:
    """Tell whether Φ of this SAE can be computed on supp(v) alone, encoder included."""
    return restricted_mode(sae) == "support"


def _restricted_delta(x: Tensor, pieces: dict[str, Tensor], jumprelu: bool) -> Tensor:
    pre = x @ pieces["W_enc"] + pieces["b_enc"]
    code = torch.relu(pre)
    if jumprelu:
        code = code * (pre > pieces["threshold"]).to(code.dtype)
    return (torch.relu(code + pieces["vector"]) - code) @ pieces["W_dec"]


def _support_pieces(sae, vector: Tensor, support: Tensor) -> dict[str, Tensor]:
    pieces = {
        "W_enc": sae.W_enc[:, support],
        "b_enc": sae.b_enc[support],
        "W_dec": sae.W_dec[support],
        "vector": vector.to(sae.W_dec.dtype)[support],
    }
    if hasattr(sae, "threshold"):
        pieces["threshold"] = sae.threshold[support]
    return pieces


def _sae_input(sae, hidden: Tensor) -> Tensor:
    x = hidden.to(sae.W_dec.dtype)
    if sae.cfg.apply_b_dec_to_input:
        x = x - sae.b_dec
    return x


def phi_restricted(hidden: Tensor, vector: Tensor, sae) -> Tensor:
    """Apply Φ(h, v) using only supp(v); equals `phi` in value for element-wise encoders.

    Falls back to `phi` for SAEs where `supports_restricted` is False. An all-zero vector
    returns `hidden` itself, for every SAE.
    """
    support = torch.nonzero(vector, as_tuple=True)[0]
    if support.numel() == 0:
        return hidden
    if not supports_restricted(sae):
        return phi(hidden, vector, sae)
    pieces = _support_pieces(sae, vector, support)
    delta = _restricted_delta(_sae_input(sae, hidden), pieces, type(sae).__name__ == "JumpReLUSAE")
    return hidden + delta.to(hidden.dtype)


class SparseSteering:
    """The transform `h -> Φ(h, multiplier · v)` for a fixed vector, ready to use as a hook transform.

    With `restricted=True` (the default) and an element-wise SAE, the support's encoder columns
    and decoder rows are gathered once here, so each call costs O(|supp(v)| · d_in) per position
    instead of O(d_sae · d_in). TopK SAEs keep the full encode and decode only the support. A
    zero multiplier or an all-zero vector returns `h` unchanged.
    """

    def __init__(self, sae, vector: Tensor, multiplier: float = 1.0, *, restricted: bool = True) -> None:
        if vector.shape != (sae.cfg.d_sae,):
            raise ValueError(f"vector has shape {tuple(vector.shape)}, expected ({sae.cfg.d_sae},)")
        self.sae = sae
        self.vector = vector.detach().to(sae.W_dec.device, sae.W_dec.dtype) * multiplier
        self.mode = restricted_mode(sae) if restricted else None
        self.support = torch.nonzero(self.vector, as_tuple=True)[0]
        self._jumprelu = type(sae).__name__ == "JumpReLUSAE"
        self._pieces = _support_pieces(sae, self.vector, self.support) if self.mode else None
        if self.mode == "decode" and getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
            # TopK decoding divides each code by its decoder row's norm before the matmul.
            self._pieces["W_dec"] = self._pieces["W_dec"] / sae.W_dec[self.support].norm(dim=-1, keepdim=True)

    @property
    def restricted(self) -> bool:
        return self.mode is not None

    def __call__(self, hidden: Tensor) -> Tensor:
        if self.support.numel() == 0:
            return hidden
        with torch.no_grad():
            if self.mode is None:
                return phi(hidden, self.vector, self.sae)
            if self.mode == "decode":
                code = self.sae.encode(hidden.to(self.sae.W_dec.dtype))[..., self.support]
                delta = (torch.relu(code + self._pieces["vector"]) - code) @ self._pieces["W_dec"]
            else:
                delta = _restricted_delta(_sae_input(self.sae, hidden), self._pieces, self._jumprelu)
            return hidden + delta.to(hidden.dtype)
