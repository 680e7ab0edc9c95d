"""Compare steering vectors: cosine similarities, top latents of sparse vectors, support overlaps.

- Hidden-space cosine: dense vectors as they are; SAE-space vectors decoded linearly,
  `v · W_dec` (the decoder rows weighted by the vector, without the decoder bias). That is the
  direction Φ adds for latents that are active and stay above zero; the exact change
  Φ(h, v) − h depends on `h`. Vectors of different hidden sizes get no cosine (None).
- Latent-space cosine and support overlap: only between SAE-space vectors of the same SAE (same
  weights hash); other pairs get None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from culturebench.steering.vectors import SteeringVector


@dataclass
class NamedVector:
    """A loaded vector, the name it is shown under, and its SAE when it lives in SAE space."""

    name: str
    vector: SteeringVector
    sae: object | None = None

    @property
    def sae_hash(self) -> str | None:
        return self.vector.sae.sha256 if self.vector.space == "sae" and self.vector.sae else None

    def hidden_direction(self) -> Tensor | None:
        """Return the vector in hidden space (decoded for SAE vectors), or None without its SAE."""
        values = self.vector.vector.float()
        if self.vector.space == "dense":
            return values
        if self.sae is None:
            return None
        return values.to(self.sae.W_dec.device, self.sae.W_dec.dtype) @ self.sae.W_dec.float()


def cosine(first: Tensor | None, second: Tensor | None) -> float | None:
    """Return the cosine similarity, None when a side is missing, sizes differ or a side is zero."""
    if first is None or second is None or first.shape != second.shape:
        return None
    first, second = first.double().cpu(), second.double().cpu()
    denominator = float(first.norm() * second.norm())
    if denominator == 0.0:
        return None
    return float(first @ second) / denominator


def top_entries(vector: Tensor, k: int) -> list[dict]:
    """Return the `k` non-zero entries with the largest |weight|, as `{"index", "weight"}`."""
    values = vector.float()
    count = min(k, int((values != 0).sum()))
    if count == 0:
        return []
    indices = values.abs().topk(count).indices.tolist()
    return [{"index": index, "weight": float(values[index])} for index in indices]


def support_overlap(first: Tensor, second: Tensor) -> dict:
    """Return the sizes of both supports, their intersection and the Jaccard index."""
    first_support = set(torch.nonzero(first, as_tuple=True)[0].tolist())
    second_support = set(torch.nonzero(second, as_tuple=True)[0].tolist())
    shared = first_support & second_support
    union = first_support | second_support
    same_sign = sum(1 for index in shared if (first[index] > 0) == (second[index] > 0))
    return {
        "sizes": [len(first_support), len(second_support)],
        "shared": len(shared),
        "shared_same_sign": same_sign,
        "jaccard": len(shared) / len(union) if union else None,
    }


def compare_vectors(vectors: Sequence[NamedVector], *, top_k: int = 10) -> dict:
    """Build the comparison of `vectors`: one entry per vector, cosine matrices and overlaps.

    Returns:
        A JSON-ready dict with `vectors` (name, method, layer, space, norm, L0, country,
        setting), `cosine_hidden` and `cosine_latent` (square matrices, None where undefined),
        `top_latents` (per SAE-space vector) and `support_overlap` (per pair sharing an SAE).
    """
    directions = [item.hidden_direction() for item in vectors]
    count = len(vectors)
    hidden = [[cosine(directions[i], directions[j]) for j in range(count)] for i in range(count)]

    def same_sae(i: int, j: int) -> bool:
        return vectors[i].sae_hash is not None and vectors[i].sae_hash == vectors[j].sae_hash

    latent = [
        [cosine(vectors[i].vector.vector, vectors[j].vector.vector) if same_sae(i, j) else None for j in range(count)]
        for i in range(count)
    ]
    overlaps = [
        {"pair": [vectors[i].name, vectors[j].name], **support_overlap(vectors[i].vector.vector, vectors[j].vector.vector)}
        for i in range(count) for j in range(i + 1, count) if same_sae(i, j)
    ]
    return {
        "kind": "vector_comparison",
        "vectors": [_summary(item, directions[index]) for index, item in enumerate(vectors)],
        "cosine_hidden": hidden,
        "cosine_latent": latent,
        "top_latents": {
            item.name: top_entries(item.vector.vector, top_k) for item in vectors if item.vector.space == "sae"
        },
        "support_overlap": overlaps,
    }


def _summary(item: NamedVector, direction: Tensor | None) -> dict:
    vector = item.vector
    return {
        "name": item.name,
        "method": vector.method,
        "layer": vector.layer,
        "space": vector.space,
        "size": int(vector.vector.numel()),
        "norm": vector.norm,
        "l0": vector.l0,
        "hidden_norm": float(direction.norm()) if direction is not None else None,
        "country": vector.country,
        "setting": vector.setting,
        "sae": vector.sae.spec if vector.sae else None,
    }
