"""Canonical model ids recorded in vector files and compared when they are loaded."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from culturebench.model_cache import MARKER_NAME
from culturebench.model_presets import get_preset


def canonical_model_id(name_or_path: str) -> str:
    """Return the Hugging Face id behind a preset name or a preset's cached folder, else the input.

    `default` and the HF-format folder culturebench builds for it both map to
    `google/gemma-3-270m`, so vectors made with either load with the other.
    """
    preset = get_preset(name_or_path)
    if preset is not None:
        return preset.hub_id
    marker = Path(name_or_path) / MARKER_NAME
    if marker.is_file():
        try:
            preset = get_preset(json.loads(marker.read_text(encoding="utf-8")).get("preset", ""))
        except (OSError, ValueError):
            preset = None
        if preset is not None:
            return preset.hub_id
    return name_or_path


def model_id_of(model: nn.Module) -> str:
    """Return the canonical id of a loaded Hugging Face model (from `config._name_or_path`)."""
    return canonical_model_id(str(getattr(model.config, "_name_or_path", "") or ""))


def model_revision_of(model: nn.Module) -> str | None:
    """Return the commit hash transformers recorded for a hub download, or None for local folders."""
    return getattr(model.config, "_commit_hash", None)
