"""Read steering vectors from other tools' files without unpickling.

- Raw `.pt` tensors as research code saves them (`torch.save(vector)`), loaded with
  `torch.load(weights_only=True)`; the caller supplies the metadata the file lacks.
- lm-eval's `steered` model dictionary: `{hookpoint: {"steering_vector", "steering_coefficient",
  "action", "bias", "head_index"}}` with hookpoints relative to `model.base_model` (e.g.
  `layers.3`). lm-eval 0.4.13 itself loads this file with `weights_only=False`; here a file
  that needs more than tensors, numbers, strings and containers is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from culturebench.errors import CultureBenchError
from culturebench.steering.hooks import Transform, add_vector
from culturebench.steering.sae import hook_name_to_layer

LM_EVAL_ACTIONS = ("add", "clamp")


def _safe_torch_load(path: Path):
    if not path.is_file():
        raise CultureBenchError(f"file {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle.UnpicklingError for objects beyond the allow-list
        raise CultureBenchError(
            f"{path} cannot be read with torch.load(weights_only=True): {error}. Only tensors, "
            "numbers, strings and plain containers are accepted"
        ) from error


def read_raw_tensor(path: str | Path) -> Tensor:
    """Read a 1-D vector from a `.pt` file that contains a tensor or a one-tensor dict.

    Shapes such as (1, d) or (1, 1, d) are flattened to (d,).
    """
    path = Path(path)
    content = _safe_torch_load(path)
    if isinstance(content, dict):
        tensors = [value for value in content.values() if isinstance(value, Tensor)]
        if len(tensors) != 1:
            raise CultureBenchError(
                f"{path} contains a dict with {len(tensors)} tensors; expected exactly one vector"
            )
        content = tensors[0]
    if not isinstance(content, Tensor):
        raise CultureBenchError(f"{path} contains a {type(content).__name__}, not a tensor")
    if sum(size != 1 for size in content.shape) > 1:
        raise CultureBenchError(f"{path} contains a tensor of shape {tuple(content.shape)}, not a vector")
    return content.detach().reshape(-1).float()


@dataclass
class LmEvalSteer:
    """One entry of an lm-eval `steered` dictionary, resolved to a decoder block."""

    hookpoint: str
    layer: int
    action: str
    vector: Tensor
    coefficient: float
    bias: Tensor | None

    def transform(self, multiplier: float = 1.0) -> Transform:
        """Make the hook transform; `multiplier` scales `coefficient` (the added amount or the
        clamp value)."""
        value = self.coefficient * multiplier
        if self.action == "add":
            return add_vector(self.vector, value)
        return _clamp(self.vector / self.vector.norm(), value, self.bias)


def _clamp(direction: Tensor, value: float, bias: Tensor | None) -> Transform:
    """Set the component of `h - bias` along the unit `direction` to `value`, as lm-eval does."""

    def transform(hidden: Tensor) -> Tensor:
        unit = direction.to(hidden.device, hidden.dtype)
        shift = bias.to(hidden.device, hidden.dtype) if bias is not None else 0
        centred = hidden - shift
        projection = (centred * unit).sum(dim=-1, keepdim=True)
        return centred + unit * (value - projection) + shift

    return transform


def read_lm_eval_steer(path: str | Path) -> list[LmEvalSteer]:
    """Read an lm-eval `steered` dictionary file safely.

    Raises:
        CultureBenchError: for unsafe or malformed files, unknown actions, per-head entries
            (`head_index`, not supported) and hookpoints that are not decoder-block outputs.
    """
    path = Path(path)
    content = _safe_torch_load(path)
    if not isinstance(content, dict) or not content:
        raise CultureBenchError(f"{path} is not an lm-eval steer dictionary ({{hookpoint: settings}})")
    entries = []
    for hookpoint, settings in content.items():
        if not isinstance(settings, dict) or not isinstance(settings.get("steering_vector"), Tensor):
            raise CultureBenchError(f"{path}: entry {hookpoint!r} has no steering_vector tensor")
        action = settings.get("action", "add")
        if action not in LM_EVAL_ACTIONS:
            raise CultureBenchError(f"{path}: entry {hookpoint!r} has unknown action {action!r} (add or clamp)")
        if settings.get("head_index") is not None:
            raise CultureBenchError(f"{path}: entry {hookpoint!r} sets head_index; per-head steering is not supported")
        bias = settings.get("bias")
        if action == "add" and bias is not None:
            raise CultureBenchError(f"{path}: entry {hookpoint!r} sets a bias, which the add action does not use")
        entries.append(
            LmEvalSteer(
                hookpoint=str(hookpoint),
                layer=hook_name_to_layer(str(hookpoint)),
                action=action,
                vector=settings["steering_vector"].detach().reshape(-1).float(),
                coefficient=float(settings.get("steering_coefficient", 1.0)),
                bias=None if bias is None else bias.detach().reshape(-1).float(),
            )
        )
    return entries
