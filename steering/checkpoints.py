"""Training checkpoints: the vector, AdamW's moments and the step, in one safetensors file.

The batch order and the direction d of every step are derived from the seed and the step
number, and the learning rate is a function of the step, so these tensors plus the step are
the whole training state. A fingerprint of the settings and data is stored with them and
compared on resume, so a checkpoint never continues a different run.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from culturebench.atomic_files import atomic_path
from culturebench.errors import CultureBenchError

FORMAT = "culturebench-training-checkpoint"


def save_checkpoint(path: str | Path, vector: torch.Tensor, optimizer: torch.optim.Optimizer, step: int,
                    fingerprint: str) -> Path:
    """Write the training state after `step` completed steps to `path`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"vector": vector.detach().to("cpu", torch.float32).contiguous()}
    state = optimizer.state.get(vector, {})
    for name in ("exp_avg", "exp_avg_sq"):
        if name in state:
            tensors[name] = state[name].detach().to("cpu").contiguous()
    metadata = {
        "format": FORMAT,
        "step": str(step),
        "adam_step": str(float(state["step"])) if "step" in state else "0",
        "fingerprint": fingerprint,
    }
    with atomic_path(path, fsync=False) as temporary:
        save_file(tensors, temporary, metadata=metadata)
    return path


def load_checkpoint(path: str | Path, vector: torch.Tensor, optimizer: torch.optim.Optimizer,
                    fingerprint: str) -> int:
    """Restore `vector` and the optimizer's moments from `path`; return the number of completed steps.

    Raises:
        CultureBenchError: when the file is not a checkpoint or was written for other settings.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for corrupt files
        raise CultureBenchError(f"checkpoint {path} is not a readable safetensors file: {error}") from error
    if metadata.get("format") != FORMAT:
        raise CultureBenchError(f"{path} is not a culturebench training checkpoint")
    if metadata.get("fingerprint") != fingerprint:
        raise CultureBenchError(
            f"checkpoint {path} was written by a run with other settings or data; delete it or start "
            "without resuming"
        )
    if tensors["vector"].shape != vector.shape:
        raise CultureBenchError(f"checkpoint {path} contains a vector of shape {tuple(tensors['vector'].shape)}, "
                                f"expected {tuple(vector.shape)}")

    with torch.no_grad():
        vector.copy_(tensors["vector"].to(vector.device))
    if "exp_avg" in tensors:
        group = optimizer.state_dict()["param_groups"]
        state = {
            "step": torch.tensor(float(metadata["adam_step"])),
            "exp_avg": tensors["exp_avg"].to(vector.device),
            "exp_avg_sq": tensors["exp_avg_sq"].to(vector.device),
        }
        optimizer.load_state_dict({"state": {0: state}, "param_groups": group})
    return int(metadata["step"])


def settings_fingerprint(settings: dict) -> str:
    """Hash a JSON-serialisable description of a run (settings, data hash, model, SAE)."""
    import hashlib

    payload = json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
