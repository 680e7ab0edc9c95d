"""Turn loaded vector files into hook interventions: dense vectors add λ·v, SAE vectors apply Φ(h, λ·v)."""

from __future__ import annotations

from torch import nn

from culturebench.errors import CultureBenchError
from culturebench.steering.hooks import Intervention, add_vector, check_positions
from culturebench.steering.sparse import SparseSteering
from culturebench.steering.vectors import SteeringVector


def intervention_for(
    vector: SteeringVector,
    multiplier: float,
    *,
    positions: str = "all",
    sae: nn.Module | None = None,
    restricted: bool = True,
) -> Intervention:
    """Build the intervention that applies `vector` at its layer with multiplier λ.

    Args:
        vector: a loaded steering vector.
        multiplier: λ; dense vectors add λ·v, SAE-space vectors apply Φ(h, λ·v).
        positions: `all`, `prompt` or `generated`.
        sae: the sae-lens SAE for SAE-space vectors (already checked with `check_vector`).
        restricted: use the support-restricted Φ where the SAE allows it (same values, faster).
    """
    check_positions(positions)
    if vector.space == "dense":
        return Intervention(vector.layer, add_vector(vector.vector.float(), multiplier), positions)
    if sae is None:
        raise CultureBenchError(f"SAE-space vector needs its SAE ({vector.sae.spec})")
    steering = SparseSteering(sae, vector.vector.float(), multiplier, restricted=restricted)
    return Intervention(vector.layer, steering, positions)
