"""Load the models culturebench runs on: named presets, Hugging Face ids and local folders.

`resolve_model_path("default")` returns a local HF-format folder, so the same value works as
lm-eval's `pretrained=` argument; `load_model` returns a ready `(model, tokenizer)` pair.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.model_cache import ensure_cached
from culturebench.model_presets import PRESETS, ModelPreset, get_preset

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
SAE_DATA_DIR = Path(__file__).resolve().parent / "data" / "sae"


def resolve_model_path(spec: str = DEFAULT_MODEL) -> str:
    """Return what `from_pretrained` should load for `spec`.

    Offline presets (`default`, `smollm2`) resolve to their cached HF-format folder, which is built
    on first use. Hub presets resolve to their hub id. Any other value (a hub id or a local folder)
    is returned unchanged.

    Example:
        >>> lm_eval_args = f"pretrained={resolve_model_path('default')},dtype=bfloat16"
    """
    preset = get_preset(spec)
    if preset is None:
        return spec
    if preset.offline:
        return str(ensure_cached(preset))
    return preset.hub_id


def load_model(spec: str = DEFAULT_MODEL, *, dtype=None, device=None):
    """Load a causal LM and its tokenizer in eval mode.

    Args:
        spec: a preset name (see `PRESETS`), a Hugging Face id or a local HF-format folder.
        dtype: a torch dtype or its name ("bfloat16", "float32", "auto"); default bfloat16,
            or float16 on a CUDA device without bfloat16 support.
        device: where to put the model ("cpu", "cuda", ...); default CUDA when available, else CPU.

    Returns:
        `(model, tokenizer)`.

    Example:
        >>> model, tokenizer = load_model("default")
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = _resolve_dtype(dtype, device)
    path = resolve_model_path(spec)
    logger.info("Loading model %s from %s (%s on %s)", spec, path, dtype, device)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except OSError as error:
        raise _load_error(spec, path, error) from error
    model.to(device)
    model.eval()
    return model, tokenizer


def model_shape(spec: str) -> tuple[int, int]:
    """Return `(num_layers, hidden_size)` of `spec` without loading weights or contacting the hub.

    Presets take both values from their table. A local folder and a hub id are read with
    `AutoConfig.from_pretrained(..., local_files_only=True)`, so a hub id works only when it is
    already in the local Hugging Face cache.

    Raises:
        CultureBenchError: when no config can be read locally, or it lacks either value.
    """
    preset = get_preset(spec)
    if preset is not None:
        return preset.num_layers, preset.hidden_size

    from transformers import AutoConfig

    is_folder = Path(spec).expanduser().is_dir()
    source = str(Path(spec).expanduser()) if is_folder else spec
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as error:
        if is_folder:
            raise CultureBenchError(
                f"could not read the config of model folder {source} ({error}); pass a folder written by save_pretrained"
            ) from error
        presets = ", ".join(PRESETS)
        raise CultureBenchError(
            f"model {spec!r} is not a preset or a local folder, and its config is not in the local Hugging Face "
            f"cache (the hub is not contacted). Download it with `hf download {spec}` on a connected machine, "
            f"pass a local folder, or use a preset: {presets}"
        ) from error
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    try:
        return int(config.num_hidden_layers), int(config.hidden_size)
    except (AttributeError, TypeError, ValueError) as error:
        raise CultureBenchError(f"the config of model {spec!r} lacks num_hidden_layers or hidden_size") from error


def check_layer_in_range(layer: int, num_layers: int, model: str) -> None:
    """Raise when `layer` is not a decoder block of a model with `num_layers` blocks."""
    if not 0 <= layer < num_layers:
        raise CultureBenchError(
            f"invalid --layer {layer}: model {model!r} has {num_layers} decoder blocks, "
            f"so the layer must be 0 to {num_layers - 1}"
        )


def default_sae_path(model: str = DEFAULT_MODEL) -> Path:
    """Return the folder of the SAE bundled for `model` (sae-lens format: cfg.json + sae_weights.safetensors)."""
    preset = get_preset(model)
    if preset is None or preset.sae_release is not None or preset.sae_id is None:
        bundled = sorted(name for name, item in PRESETS.items() if item.sae_release is None and item.sae_id)
        raise CultureBenchError(
            f"no SAE is bundled for model {model!r}; bundled SAEs exist for: {', '.join(bundled)}"
        )
    path = SAE_DATA_DIR / preset.sae_id
    if not (path / "cfg.json").is_file():
        raise CultureBenchError(
            f"the bundled SAE {preset.sae_id!r} is missing from {SAE_DATA_DIR}; reinstall culturebench"
        )
    return path


def _resolve_dtype(dtype, device):
    import torch

    if dtype is None:
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16
    if isinstance(dtype, str) and dtype != "auto":
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise CultureBenchError(f"unknown dtype {dtype!r}; use bfloat16, float16, float32 or auto")
        return resolved
    return dtype


def _load_error(spec: str, path: str, error: OSError) -> CultureBenchError:
    """Explain a failed load; for hub ids, say how to get the weights without hub access."""
    if Path(path).exists():
        return CultureBenchError(f"could not load model {spec!r} from {path}: {error}")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    reason = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub is unreachable or the id is wrong"
    preset: ModelPreset | None = get_preset(spec)
    gated = " (a gated model: accept its license on the hub and set HF_TOKEN)" if preset and not preset.offline else ""
    return CultureBenchError(
        f"could not load model {spec!r} ({path}) because {reason} and it is not in the local Hugging Face "
        f"cache: {error}. Download it on a connected machine with `hf download {path}`{gated}, or pass a "
        f"local folder, or use an offline preset: {', '.join(n for n, p in PRESETS.items() if p.offline)}"
    )
