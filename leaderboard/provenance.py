"""Provenance of a run: merge `run.json`, the lm-eval results file and the vector file's header."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from culturebench.leaderboard.fields import as_text, iso_date, parse_model_args
from culturebench.model_cache import MARKER_NAME
from culturebench.model_presets import get_preset

logger = logging.getLogger(__name__)

# (key, label) in display order. A value of None is shown as "missing".
FIELDS = (
    ("model", "Model"),
    ("model_revision", "Model revision"),
    ("method", "Method"),
    ("setting", "Vector setting"),
    ("country", "Vector country"),
    ("layer", "Layer"),
    ("multiplier", "Multiplier"),
    ("vector", "Vector file"),
    ("vector_sha256", "Vector SHA-256"),
    ("sae", "SAE"),
    ("judge", "Judge"),
    ("dataset", "Dataset"),
    ("dataset_sha256", "Dataset SHA-256"),
    ("training_data_sha256", "Vector training data SHA-256"),
    ("seeds", "Seeds"),
    ("culturebench_version", "culturebench version"),
    ("lm_eval_version", "lm-eval version"),
    ("transformers_version", "transformers version"),
    ("date", "Date"),
)
# Fields that a run without a steering vector does not have.
VECTOR_FIELDS = ("setting", "country", "layer", "multiplier", "vector", "vector_sha256", "sae", "training_data_sha256")
NOT_USED = "not used"
SEED_KEYS = ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")


def read_vector_metadata(path: Path) -> dict[str, str]:
    """Return the string metadata of a `.safetensors` file without loading its tensors."""
    with safe_open(str(path), framework="numpy") as handle:
        return dict(handle.metadata() or {})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_vector(reference: str | None, run_dir: Path, manifest_dir: Path | None) -> Path | None:
    """Resolve a vector path from `run.json` (relative to it) or `model_args` (relative to the run)."""
    if not reference:
        return None
    candidate = Path(reference)
    bases = [manifest_dir] if manifest_dir else []
    bases.append(run_dir)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for base in bases:
        if (base / candidate).is_file():
            return base / candidate
    return None


def build_provenance(
    manifest: dict[str, Any],
    manifest_dir: Path | None,
    run_dir: Path,
    results: dict[str, Any] | None,
    judges: list[str],
    has_open_ended: bool,
) -> tuple[dict[str, str | None], list[str]]:
    """Return the provenance values (None = missing) and notes about inconsistencies found.

    Args:
        manifest: the run's `run.json` object, or {} when it has none.
        manifest_dir: the directory of `run.json`, used to resolve relative paths.
        run_dir: the run's directory.
        results: the newest lm-eval results object of the run, or None.
        judges: the judge specs seen in the run's judge results.
        has_open_ended: whether the run evaluated open-ended tasks.
    """
    notes: list[str] = []
    results = results or {}
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    model_args = parse_model_args(config.get("model_args"))
    task_metadata = _task_metadata(results)

    recorded_vector, recorded_method = _recorded_steering(config)
    references = [as_text(manifest.get("vector")), recorded_vector, as_text(model_args.get("vector")),
                  as_text(model_args.get("vector_path"))]
    references = [reference for reference in references if reference]
    vector_reference = references[0] if references else None
    vector_path = None
    for reference in references:
        vector_path = find_vector(reference, run_dir, manifest_dir)
        if vector_path is not None:
            vector_reference = reference
            break
    header: dict[str, str] = {}
    if vector_path is not None:
        try:
            header = read_vector_metadata(vector_path)
        except (OSError, SafetensorError) as error:
            notes.append(f"vector file {vector_reference} unreadable: {error}")
    elif vector_reference:
        notes.append(f"vector file {vector_reference} not found, so its header and hash are missing")

    def first(*values: Any) -> str | None:
        for value in values:
            text = as_text(value)
            if text is not None:
                return text
        return None

    evaluated = first(model_args.get("pretrained"), model_args.get("model"), results.get("model_name"))
    model_id, cached_revision = canonical_model(evaluated)
    values: dict[str, str | None] = {
        "model": first(manifest.get("model"), model_id, header.get("model_id"), header.get("model")),
        "model_revision": first(manifest.get("model_revision"), header.get("model_revision"), cached_revision,
                                model_args.get("revision"), config.get("model_sha"), config.get("model_revision")),
        "method": first(manifest.get("method"), recorded_method, model_args.get("method"), header.get("method")),
        "setting": first(manifest.get("setting"), header.get("setting"), header.get("localization")),
        "country": first(manifest.get("country"), header.get("country")),
        "layer": first(manifest.get("layer"), model_args.get("layer"), header.get("layer")),
        "multiplier": first(manifest.get("multiplier"), model_args.get("multiplier"),
                            header.get("default_multiplier")),
        "vector": vector_reference,
        "vector_sha256": first(manifest.get("vector_sha256")),
        "sae": _sae(manifest.get("sae"), header),
        "judge": first(manifest.get("judge"), ", ".join(judges)),
        "dataset": first(manifest.get("dataset"), _dataset(results)),
        "dataset_sha256": first(manifest.get("dataset_sha256"), task_metadata.get("dataset_sha256")),
        "training_data_sha256": first(manifest.get("training_data_sha256"), header.get("training_data_sha256"),
                                      header.get("data_sha256")),
        "seeds": _seeds(manifest.get("seeds"), config),
        "culturebench_version": first(manifest.get("culturebench_version"),
                                      task_metadata.get("culturebench_version"),
                                      header.get("culturebench_version")),
        "lm_eval_version": first(manifest.get("lm_eval_version"), results.get("lm_eval_version")),
        "transformers_version": first(manifest.get("transformers_version"), results.get("transformers_version")),
        "date": iso_date(manifest.get("date")) or iso_date(results.get("date")),
    }

    if vector_path is not None:
        actual = sha256_file(vector_path)
        if values["vector_sha256"] and values["vector_sha256"].lower() != actual:
            notes.append(f"vector SHA-256 mismatch: run.json says {values['vector_sha256']}, the file is {actual}")
        values["vector_sha256"] = values["vector_sha256"] or actual

    if values["method"] is None and config.get("model") == "hf" and not vector_reference:
        values["method"] = "baseline"
    if (values["method"] or "").lower() == "baseline":
        for key in VECTOR_FIELDS:
            values[key] = values[key] or NOT_USED
    if values["judge"] is None and not has_open_ended:
        values["judge"] = NOT_USED
    return values, notes


def _recorded_steering(config: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return the vector path and method `steered_hf` adds to lm-eval's results `config`.

    The path is absolute, so it stays valid when the results are read from another folder. Several vectors
    are joined with `;`, as in `model_args`. Results from other models, or from versions of
    `steered_hf` that did not record these keys, give (None, None).
    """
    def joined(key: str) -> str | None:
        values = config.get(key)
        if not isinstance(values, list):
            return None
        texts = [as_text(value) for value in values]
        return ";".join(text for text in texts if text) or None

    return joined("steering_vectors"), joined("steering_methods")


def canonical_model(name_or_path: str | None) -> tuple[str | None, str | None]:
    """Return the Hugging Face id behind a culturebench preset or its cached folder, and what it was built from.

    lm-eval records `pretrained` as given: for the offline presets that is a local folder, whose
    marker file names the preset and the GGUF file it was converted from. Other values are returned
    unchanged, with no revision.
    """
    if name_or_path is None:
        return None, None
    preset = get_preset(name_or_path)
    if preset is not None:
        return preset.hub_id, None
    marker = Path(name_or_path) / MARKER_NAME
    if not marker.is_file():
        return name_or_path, None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return name_or_path, None
    preset = get_preset(str(info.get("preset", ""))) if isinstance(info, dict) else None
    if preset is None:
        return name_or_path, None
    parts = [as_text(info.get("distribution")), as_text(info.get("distribution_version"))]
    source = " ".join(part for part in parts if part)
    if info.get("gguf_sha256"):
        source = f"{source} (GGUF sha256 {info['gguf_sha256']})".strip()
    return preset.hub_id, source or None


def _task_metadata(results: dict[str, Any]) -> dict[str, str]:
    """Merge the `metadata` of every task config; the first task (sorted by name) wins a conflict."""
    merged: dict[str, str] = {}
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    for task in sorted(configs):
        metadata = configs[task].get("metadata") if isinstance(configs[task], dict) else None
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                text = as_text(value) if not isinstance(value, (dict, list)) else None
                if text is not None:
                    merged.setdefault(str(key), text)
    return merged


def _dataset(results: dict[str, Any]) -> str | None:
    """Describe the datasets of the run's tasks: `dataset_path`, `dataset_name` and local data files."""
    configs = results.get("configs") if isinstance(results.get("configs"), dict) else {}
    descriptions = []
    for task in sorted(configs):
        config = configs[task] if isinstance(configs[task], dict) else {}
        metadata = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        parts = [as_text(metadata.get("dataset")) or as_text(metadata.get("data"))]
        if parts[0] is None and config.get("custom_dataset"):
            parts = [_custom_dataset(config, metadata)]
        elif parts[0] is None:
            parts = [as_text(config.get("dataset_path")), as_text(config.get("dataset_name"))]
            kwargs = config.get("dataset_kwargs") if isinstance(config.get("dataset_kwargs"), dict) else {}
            files = kwargs.get("data_files")
            if files:
                parts.append(json.dumps(files, sort_keys=True, ensure_ascii=False))
        description = " ".join(part for part in parts if part)
        if description and description not in descriptions:
            descriptions.append(description)
    return "; ".join(descriptions) or None


def _custom_dataset(config: dict[str, Any], metadata: dict[str, Any]) -> str:
    """Describe a task whose documents come from a function, as the `culture_*` tasks' do.

    lm-eval records the function's source text; its name and keyword arguments identify the data,
    with the `culturebench_data` and `culturebench_split` metadata when the run set them.
    """
    match = re.search(r"def\s+(\w+)", str(config["custom_dataset"]))
    function = match.group(1) if match else "custom_dataset"
    kwargs = config.get("dataset_kwargs") if isinstance(config.get("dataset_kwargs"), dict) else {}
    arguments = [f"{key}={value}" for key, value in sorted(kwargs.items()) if value is not None]
    for key in ("culturebench_data", "culturebench_split"):
        if metadata.get(key) is not None:
            arguments.append(f"{key}={metadata[key]}")
    return f"{function}({', '.join(arguments)})"


def _sae(raw: Any, header: dict[str, str]) -> str | None:
    """Describe the SAE from `run.json` (object or text), else from the vector header's `sae` JSON."""
    if as_text(raw) and not isinstance(raw, dict):
        return as_text(raw)
    if not isinstance(raw, dict):
        raw = {}
        if header.get("sae"):
            try:
                parsed = json.loads(header["sae"])
            except json.JSONDecodeError:
                return header["sae"]
            raw = parsed if isinstance(parsed, dict) else {}
        for key in ("release", "sae_id", "path", "sha256"):
            raw.setdefault(key, header.get(f"sae_{key.removeprefix('sae_')}"))
    names = [as_text(raw.get(key)) for key in ("release", "sae_id", "id")]
    text = " / ".join(name for name in names if name) or as_text(raw.get("spec")) or as_text(raw.get("path"))
    details = [f"d_sae {raw['d_sae']}" if raw.get("d_sae") else None,
               f"sha256 {raw['sha256']}" if raw.get("sha256") else None]
    details = [detail for detail in details if detail]
    if text and details:
        return f"{text} ({', '.join(details)})"
    return text


def _seeds(raw: Any, config: dict[str, Any]) -> str | None:
    if isinstance(raw, dict):
        return ", ".join(f"{key}={raw[key]}" for key in sorted(raw)) or None
    if as_text(raw):
        return as_text(raw)
    seeds = [f"{key}={config[key]}" for key in SEED_KEYS if config.get(key) is not None]
    return ", ".join(seeds) or None
