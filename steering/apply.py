"""Turn loaded vector files into hook interventions: dense vectors add λ·v, SAE vectors apply Φ(h, λ·v)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from culturebench.errors import CultureBenchError
from culturebench.steering.hooks import (
    Intervention, SteeringHandle, add_vector, apply_interventions, check_positions,
)
from culturebench.steering.imports import LmEvalSteer, read_lm_eval_steer
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.sae import SAESource, check_sae_matches_model, load_sae, recorded_sae_spec
from culturebench.steering.sparse import SparseSteering
from culturebench.steering.vectors import SteeringVector, check_vector, load_vector


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


@dataclass
class _FileSteering:
    """The interventions one file contributes: a culturebench vector or an lm-eval dictionary."""

    path: str
    vector: SteeringVector | None = None
    sae: nn.Module | None = None
    lm_eval_entries: list[LmEvalSteer] = field(default_factory=list)

    @property
    def default_multiplier(self) -> float:
        return self.vector.default_multiplier if self.vector is not None else 1.0

    def interventions(self, multiplier: float, positions: str, restricted: bool) -> list[Intervention]:
        if multiplier == 0:
            return []
        if self.vector is not None:
            return [intervention_for(self.vector, multiplier, positions=positions, sae=self.sae, restricted=restricted)]
        return [Intervention(entry.layer, entry.transform(multiplier), positions) for entry in self.lm_eval_entries]


class SteeringSet:
    """Vectors loaded from files and checked against one model, applied with chosen multipliers.

    Args:
        model: the Hugging Face model to steer.
        files: culturebench `.safetensors` vector files or lm-eval `steered` dictionaries (`.pt`).
        sae: SAE sources for SAE-space vectors, one for all or one per SAE-space file; None
            uses the source each vector file records (see `recorded_sae_spec`).
        model_id: the id checked against each vector's model id; None skips the check.

    Example:
        >>> steering = SteeringSet(model, ["caa.safetensors"], model_id=model_id_of(model))
        >>> with steering.apply(multiplier=2.0):
        ...     model.generate(**batch)
    """

    def __init__(self, model: nn.Module, files: Sequence[str | Path], *, sae: Sequence[str] | None = None,
                 model_id: str | None = None) -> None:
        self.model = model
        self.layout = find_decoder_layout(model)
        self.files: list[_FileSteering] = []
        self._saes: dict[str, tuple[nn.Module, SAESource]] = {}
        sae_specs = list(sae or [])
        sparse_count = 0
        for path in files:
            path = str(path)
            if Path(path).suffix in (".pt", ".pth"):
                entries = read_lm_eval_steer(path)
                for entry in entries:
                    self.layout.check_layer(entry.layer)
                    if entry.vector.shape[0] != self.layout.hidden_size:
                        raise CultureBenchError(
                            f"{path}: entry {entry.hookpoint!r} has {entry.vector.shape[0]} entries but the "
                            f"model's hidden size is {self.layout.hidden_size}"
                        )
                self.files.append(_FileSteering(path, lm_eval_entries=entries))
                continue

            vector = load_vector(path)
            loaded_sae = None
            if vector.space == "sae":
                spec = _pick_sae_spec(sae_specs, sparse_count, vector, path)
                sparse_count += 1
                loaded_sae, source = self._load_sae(spec)
                check_sae_matches_model(source, self.layout, vector.layer)
                check_vector(vector, self.layout, model_id=model_id, sae=source, path=path)
            else:
                check_vector(vector, self.layout, model_id=model_id, path=path)
            self.files.append(_FileSteering(path, vector=vector, sae=loaded_sae))
        if sae_specs and len(sae_specs) not in (1, sparse_count):
            raise CultureBenchError(
                f"{len(sae_specs)} SAEs were given for {sparse_count} SAE-space vectors; give one for all or one each"
            )

    def _load_sae(self, spec: str):
        if spec not in self._saes:
            parameter = next(self.model.parameters())
            sae, source = load_sae(spec, device=str(parameter.device))
            self._saes[spec] = (sae, source)
        return self._saes[spec]

    def multipliers(self, multiplier: float | Sequence[float] | None) -> list[float]:
        """Expand `multiplier` (None = each file's default, one value, or one per file) to a list."""
        if multiplier is None:
            return [item.default_multiplier for item in self.files]
        if isinstance(multiplier, (int, float)):
            return [float(multiplier)] * len(self.files)
        values = [float(value) for value in multiplier]
        if len(values) == 1:
            return values * len(self.files)
        if len(values) != len(self.files):
            raise CultureBenchError(
                f"{len(values)} multipliers were given for {len(self.files)} vector files; give one for all or one each"
            )
        return values

    def interventions(self, multiplier=None, *, positions: str = "all", restricted: bool = True) -> list[Intervention]:
        """Return the interventions for `multiplier`; files whose multiplier is 0 contribute none."""
        check_positions(positions)
        result: list[Intervention] = []
        for item, value in zip(self.files, self.multipliers(multiplier)):
            result.extend(item.interventions(value, positions, restricted))
        return result

    def apply(self, multiplier=None, *, positions: str = "all", restricted: bool = True) -> SteeringHandle:
        """Register the hooks and return their handle (usable as a context manager)."""
        return apply_interventions(self.model, self.interventions(multiplier, positions=positions, restricted=restricted))


def _pick_sae_spec(specs: list[str], index: int, vector: SteeringVector, path: str) -> str:
    if not specs:
        return recorded_sae_spec(vector.sae)
    if len(specs) == 1:
        return specs[0]
    if index >= len(specs):
        raise CultureBenchError(f"no SAE given for SAE-space vector {path}; give one for all or one each")
    return specs[index]
