"""Steering vector files: one `.safetensors` per vector with a readable metadata header.

The file contains one tensor, `vector`, with d_model entries for dense vectors and d_sae for
SAE-space vectors. Its string metadata names the method, model id and revision, layer and
hookpoint, space, and SAE source (spec, release/id, d_in, d_sae, hook, weights hash). It also
records the default multiplier, training data hash, country, localization setting, steps,
final loss and culturebench version. Reading never unpickles: vector files are safetensors,
and raw `.pt` imports use `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from culturebench import __version__
from culturebench.atomic_files import atomic_path
from culturebench.errors import CultureBenchError
from culturebench.steering.layers import DecoderLayout
from culturebench.steering.sae import SAESource

FORMAT = "culturebench-steering-vector"
FORMAT_VERSION = "1"
SPACES = ("dense", "sae")
METHODS = ("caa", "sas", "bipo", "yapo", "import")

_INT_FIELDS = {"layer", "steps"}
_FLOAT_FIELDS = {"default_multiplier", "final_loss"}


@dataclass
class SteeringVector:
    """A steering vector and the facts needed to apply it to the right model, layer and SAE.

    `hookpoint` is the Hugging Face module path of the block output (e.g. `model.layers.6`);
    `space` is `dense` (added to h) or `sae` (applied through Φ with `sae`). `extra` keeps
    method-specific settings (such as SAS's τ) as strings.
    """

    vector: torch.Tensor
    method: str
    layer: int
    space: str
    model_id: str
    hookpoint: str
    model_revision: str | None = None
    sae: SAESource | None = None
    default_multiplier: float = 1.0
    training_data_sha256: str | None = None
    country: str | None = None
    setting: str | None = None
    steps: int | None = None
    final_loss: float | None = None
    culturebench_version: str = __version__
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise CultureBenchError(f"invalid space {self.space!r}: expected dense or sae")
        if self.vector.ndim != 1:
            raise CultureBenchError(f"a steering vector must be 1-D, got shape {tuple(self.vector.shape)}")
        if self.space == "sae":
            if self.sae is None:
                raise CultureBenchError("an SAE-space vector needs its SAE source")
            if self.vector.shape[0] != self.sae.d_sae:
                raise CultureBenchError(
                    f"SAE-space vector has {self.vector.shape[0]} entries but the SAE has d_sae {self.sae.d_sae}"
                )

    @property
    def norm(self) -> float:
        return float(self.vector.float().norm())

    @property
    def l0(self) -> int:
        return int((self.vector != 0).sum())

    def metadata(self) -> dict[str, str]:
        """Return the safetensors header entries (all strings; absent values are left out)."""
        header = {"format": FORMAT, "format_version": FORMAT_VERSION}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "vector" or value is None:
                continue
            if item.name == "sae":
                header["sae"] = json.dumps(value.to_dict(), sort_keys=True)
            elif item.name == "extra":
                header["extra"] = json.dumps(value, sort_keys=True, ensure_ascii=False)
            else:
                header[item.name] = str(value)
        return header


def save_vector(vector: SteeringVector, path: str | Path) -> Path:
    """Write `vector` to `path` atomically (temporary file, then rename) and return the path."""
    path = Path(path)
    tensor = vector.vector.detach().to("cpu").contiguous()
    with atomic_path(path, fsync=False) as temporary:
        save_file({"vector": tensor}, temporary, metadata=vector.metadata())
    return path


def load_vector(path: str | Path) -> SteeringVector:
    """Read a vector file written by `save_vector`.

    Raises:
        CultureBenchError: when the file is missing, is not a culturebench vector file, or its
            header is incomplete.
    """
    path = Path(path)
    if not path.is_file():
        raise CultureBenchError(f"vector file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            if "vector" not in handle.keys():
                raise CultureBenchError(f"{path} has no tensor named 'vector'")
            tensor = handle.get_tensor("vector")
    except CultureBenchError:
        raise
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise CultureBenchError(f"{path} is not a readable safetensors file: {error}") from error

    if header.get("format") != FORMAT:
        raise CultureBenchError(
            f"{path} is not a culturebench steering vector (format {header.get('format')!r}); "
            "import raw tensors with `culturebench vector import`"
        )
    values: dict[str, Any] = {}
    for item in fields(SteeringVector):
        if item.name == "vector" or item.name not in header:
            continue
        raw = header[item.name]
        if item.name == "sae":
            values["sae"] = SAESource(**json.loads(raw))
        elif item.name == "extra":
            values["extra"] = json.loads(raw)
        elif item.name in _INT_FIELDS:
            values[item.name] = int(raw)
        elif item.name in _FLOAT_FIELDS:
            values[item.name] = float(raw)
        else:
            values[item.name] = raw
    missing = [name for name in ("method", "layer", "space", "model_id", "hookpoint") if name not in values]
    if missing:
        raise CultureBenchError(f"{path} lacks required metadata: {', '.join(missing)}")
    return SteeringVector(vector=tensor, **values)


def same_model_id(recorded: str, current: str) -> bool:
    """Compare model ids by their last path component, case-insensitively.

    `google/gemma-3-270m` and a local folder `.../gemma-3-270m` match, so a model can move
    between the hub id and a local copy without invalidating its vectors.
    """
    def last(name: str) -> str:
        return name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower()

    return last(recorded) == last(current)


def check_vector(
    vector: SteeringVector,
    layout: DecoderLayout,
    *,
    model_id: str | None = None,
    sae: SAESource | None = None,
    path: str | Path | None = None,
) -> None:
    """Check that `vector` fits the model (hidden size, layer, id) and the SAE in use.

    Args:
        vector: the loaded vector.
        layout: the decoder layout of the model in use.
        model_id: the id of the model in use; None skips the id check.
        sae: the SAE in use, required for SAE-space vectors.
        path: the file, named in messages.

    Raises:
        CultureBenchError: naming the recorded and the current value on any mismatch.
    """
    name = str(path) if path else "steering vector"
    layout.check_layer(vector.layer)
    if vector.space == "dense" and vector.vector.shape[0] != layout.hidden_size:
        raise CultureBenchError(
            f"{name} has {vector.vector.shape[0]} entries but the model's hidden size is {layout.hidden_size}"
        )
    if model_id is not None and not same_model_id(vector.model_id, model_id):
        raise CultureBenchError(
            f"{name} was made for model {vector.model_id!r} but the model in use is {model_id!r}"
        )
    if vector.space == "sae":
        if sae is None:
            raise CultureBenchError(f"{name} is an SAE-space vector: load its SAE ({vector.sae.spec})")
        if sae.d_sae != vector.sae.d_sae:
            raise CultureBenchError(
                f"{name} has d_sae {vector.sae.d_sae} but the SAE in use ({sae.spec}) has d_sae {sae.d_sae}"
            )
        if sae.sha256 != vector.sae.sha256:
            raise CultureBenchError(
                f"{name} was made with SAE {vector.sae.spec} (weights sha256 {vector.sae.sha256[:12]}) "
                f"but the SAE in use ({sae.spec}) has weights sha256 {sae.sha256[:12]}"
            )
        if sae.d_in != layout.hidden_size:
            raise CultureBenchError(
                f"SAE {sae.spec} reads vectors of size {sae.d_in} but the model's hidden size is {layout.hidden_size}"
            )
