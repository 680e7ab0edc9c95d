"""The settings of `culturebench run`: typed dataclasses, their defaults, and how files and overrides set them.

A configuration is built in this order, each step overriding the previous one:

1. the defaults below (each field's `doc` metadata explains it);
2. a YAML (`.yaml`, `.yml`) or TOML (`.toml`) file given with `--config`;
3. the `--quick` profile (`QUICK_PROFILE`), a few items and steps so that CI runs every stage;
4. `--set KEY=VALUE` overrides, where KEY may be dotted (`train.steps=50`);
5. `--out RUN_DIR`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from culturebench.errors import CultureBenchError

METHODS = ("caa", "sas", "bipo", "yapo")
SETTINGS = ("localized", "nonlocalized", "both")
PROTOCOLS = ("auto", "ll", "mcq")
EVAL_SCOPES = ("country", "language")
REFERENCES = ("unsteered", "none")
POSITIONS = ("all", "prompt", "generated")
CONFIG_SUFFIXES = (".yaml", ".yml", ".toml")


def _field(default: Any, doc: str) -> Any:
    """Declare a config field with its default and the one-line doc shown by `--print-config`."""
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        factory = default if callable(default) and dataclasses.is_dataclass(default) else (lambda: _copy(default))
        return field(default_factory=factory, metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


@dataclass
class Multipliers:
    """The multiplier λ each method's vectors are evaluated with."""

    caa: float | None = _field(None, "CAA: the steered state is h + λ·v; null: the model preset's λ, else 1")
    sas: float | None = _field(None, "SAS: the steered state is Φ(h, λ·v); null: the model preset's λ, else 1")
    bipo: float | None = _field(None, "BiPO: the steered state is h + λ·v; null: the model preset's λ, else 1")
    yapo: float | None = _field(None, "YaPO: the steered state is Φ(h, λ·v); null: the model preset's λ, else 1")


@dataclass
class ExtractSettings:
    """CAA and SAS extraction from contrast sets (gold option against the other countries' options)."""

    tau: float = _field(0.7, "SAS: keep latents active on at least this fraction of positive examples")
    include_western: bool = _field(False, "also use the Western control option as a negative answer")
    batch_size: int = _field(8, "sequences per forward pass while reading activations")


@dataclass
class TrainSettings:
    """BiPO and YaPO training (the bi-directional preference loss)."""

    steps: int = _field(100, "optimiser steps per vector")
    batch_size: int = _field(4, "preference pairs per step")
    learning_rate: float | None = _field(None, "AdamW peak learning rate; null: the model preset's (5e-2 for "
                                                  "default), else 5e-4")
    weight_decay: float = _field(0.05, "AdamW weight decay")
    warmup_steps: int = _field(10, "linear warm-up steps before the cosine schedule")
    beta: float = _field(0.1, "inverse temperature β of the preference loss")
    reference: str = _field("unsteered", "reference policy: unsteered (divide by π(·|h)) or none")
    l1: float = _field(0.0, "YaPO: L1 penalty on the latent vector (0 = off)")
    eval_every: int = _field(50, "log the loss on held-out test-split pairs every N steps; 0: no held-out pairs")
    checkpoint_every: int = _field(25, "write a checkpoint every N steps, so an interrupted run resumes there")
    pair_batch_size: int = _field(8, "prompts per forward pass while finding the on-policy rejected answers")


@dataclass
class EvalSettings:
    """Evaluation through lm-eval's Python API."""

    scope: str = _field("country", "items evaluated: the country's test items, or its whole language group")
    limit: int | None = _field(None, "documents per task (lm-eval --limit); null evaluates every test item")
    batch_size: int = _field(8, "lm-eval batch size")
    max_gen_toks: int | None = _field(None, "new tokens per answer in generation tasks (\\boxed{k} and open-ended); "
                                            "null keeps each task's limit (256 and 512)")
    vectors: list[str] = _field([], "extra vector files to evaluate beside the ones this run makes")


@dataclass
class JudgeSettings:
    """The LLM judge for open-ended answers; with no spec the judge stage is skipped."""

    spec: str | None = _field(None, "openai:MODEL, gemini:MODEL, openai-compatible:URL:MODEL or hf:PATH")
    concurrency: int = _field(8, "judge requests in flight at once")
    max_tokens: int = _field(1024, "output token limit per judge request")
    timeout: float = _field(60.0, "seconds per judge request before it is retried")


@dataclass
class RunConfig:
    """Everything `culturebench run` does, with the defaults of `make demo`."""

    out: str = _field("runs/default", "run directory: stage outputs, the site and state for resuming")
    model: str = _field("default", "preset name (default, smollm2, ...), Hugging Face id or local folder")
    dtype: str = _field("bfloat16", "model dtype: bfloat16, float16, float32 or auto")
    device: str = _field("auto", "torch device: auto (CUDA when available, else CPU), cpu, cuda, cuda:1, ...")
    data: str | None = _field(None, "item source for culturebench.loaders.load_items; null: $CULTUREBENCH_DATA, "
                                    "else the bundled benchmark")
    country: str = _field("morocco", "country the vectors steer toward (its language group is evaluated)")
    settings: list[str] = _field(["both"], "localization settings to build vectors for: localized, nonlocalized, "
                                           "both (one vector per method and setting)")
    methods: list[str] = _field(list(METHODS), "steering methods: caa, sas (extracted), bipo, yapo (trained)")
    layer: int | None = _field(None, "decoder block to steer, 0-based; null: the SAE's layer, else the preset's")
    sae: str | None = _field(None, "SAE for SAS and YaPO (sae-lens folder, params.npz or RELEASE/SAE_ID); "
                                   "null: the SAE bundled for the model")
    protocol: str = _field("auto", "MCQ protocol: ll (log-likelihood, base models), mcq (\\boxed{k}, chat "
                                   "models) or auto (mcq when the tokenizer has a chat template)")
    positions: str = _field("all", "token positions steered during evaluation: all, prompt or generated")
    train_items: int | None = _field(None, "train items per setting used for pairs and contrast sets; null: all")
    seed: int = _field(0, "seed for training and lm-eval")
    alpha: float = _field(1.0, "PNLG exponent: |A_l - A_n| / ((A_l + A_n)/2)^alpha")
    multipliers: Multipliers = _field(Multipliers, "evaluation multiplier per method")
    extract: ExtractSettings = _field(ExtractSettings, "CAA and SAS extraction")
    train: TrainSettings = _field(TrainSettings, "BiPO and YaPO training")
    eval: EvalSettings = _field(EvalSettings, "evaluation")
    judge: JudgeSettings = _field(JudgeSettings, "LLM judge for open-ended answers")

    @property
    def run_dir(self) -> Path:
        return Path(self.out).expanduser()


# A few items and steps per stage, on the real default model: every stage runs, in minutes.
QUICK_PROFILE: dict[str, Any] = {
    "out": "runs/quick",
    "train_items": 4,
    "train.steps": 2,
    "train.warmup_steps": 1,
    "eval.limit": 4,
}


def default_config() -> RunConfig:
    """Return a configuration holding every default."""
    return RunConfig()


def load_config(
    path: str | Path | None = None,
    *,
    quick: bool = False,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
) -> RunConfig:
    """Build the configuration from defaults, a file, the quick profile, overrides and an output folder.

    Args:
        path: a `.yaml`, `.yml` or `.toml` file whose keys are the field names (nested tables for
            `train`, `eval`, `judge`, `extract` and `multipliers`); None uses the defaults.
        quick: apply `QUICK_PROFILE` after the file.
        overrides: `KEY=VALUE` strings; KEY is a field name, dotted for nested fields; VALUE is read
            as YAML (`null`, `3`, `[a, b]`), and list fields also accept `a,b`.
        out: the run directory, overriding everything else.

    Raises:
        CultureBenchError: for an unreadable file, an unknown key or a value of the wrong type.

    Example:
        >>> config = load_config("study.yaml", overrides=["train.steps=50", "methods=caa,yapo"])
    """
    config = default_config()
    if path is not None:
        apply_mapping(config, read_config_file(Path(path)), origin=str(path))
    if quick:
        for key, value in QUICK_PROFILE.items():
            set_value(config, key, value, origin="--quick")
    for override in overrides or []:
        key, value = parse_override(override)
        set_value(config, key, value, origin=f"--set {override}")
    if out is not None:
        config.out = str(out)
    return config


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML config file into a mapping."""
    if path.suffix not in CONFIG_SUFFIXES:
        raise CultureBenchError(f"config file {path} has suffix {path.suffix!r}; use .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CultureBenchError(f"cannot read config file {path}: {error}") from error
    try:
        if path.suffix == ".toml":
            document = _toml_loads(text)
        else:
            document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:
        raise CultureBenchError(f"config file {path} is not valid {path.suffix[1:].upper()}: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise CultureBenchError(f"config file {path} must hold a mapping of settings, got {type(document).__name__}")
    return document


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 reads TOML through the tomli backport
        import tomli as tomllib
    return tomllib.loads(text)


def parse_override(text: str) -> tuple[str, Any]:
    """Split `KEY=VALUE` and read VALUE as YAML (so `null`, numbers and `[a, b]` keep their types)."""
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise CultureBenchError(f"invalid --set {text!r}: use KEY=VALUE, e.g. --set train.steps=50")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_mapping(config: Any, mapping: dict[str, Any], *, origin: str, prefix: str = "") -> None:
    """Set every key of a (nested) mapping on the dataclass `config`."""
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        target = _field_of(config, str(key), dotted, origin)
        current = getattr(config, target.name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise CultureBenchError(f"{origin}: {dotted} must be a table of settings, got {value!r}")
            apply_mapping(current, value, origin=origin, prefix=f"{dotted}.")
        else:
            setattr(config, target.name, coerce(value, _hint(config, target.name), dotted, origin))


def set_value(config: RunConfig, key: str, value: Any, *, origin: str) -> None:
    """Set the (dotted) field `key` of `config` to `value`, checking its type."""
    owner: Any = config
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        target = _field_of(owner, part, ".".join(parts[: depth + 1]), origin)
        owner = getattr(owner, target.name)
        if not dataclasses.is_dataclass(owner):
            raise CultureBenchError(f"{origin}: {'.'.join(parts[: depth + 1])} has no sub-settings")
    name = parts[-1]
    target = _field_of(owner, name, key, origin)
    if dataclasses.is_dataclass(getattr(owner, target.name)):
        if not isinstance(value, dict):
            raise CultureBenchError(f"{origin}: {key} is a table; set one of its fields, e.g. {key}."
                                    f"{dataclasses.fields(getattr(owner, target.name))[0].name}=...")
        apply_mapping(getattr(owner, target.name), value, origin=origin, prefix=f"{key}.")
        return
    setattr(owner, target.name, coerce(value, _hint(owner, target.name), key, origin))


def _field_of(owner: Any, name: str, dotted: str, origin: str) -> dataclasses.Field:
    known = {item.name: item for item in dataclasses.fields(owner)}
    if name not in known:
        scope = dotted.rsplit(".", 1)[0] + "." if "." in dotted else ""
        choices = ", ".join(scope + item for item in known)
        raise CultureBenchError(f"{origin}: unknown setting {dotted!r}; known settings: {choices}")
    return known[name]


def _hint(owner: Any, name: str) -> Any:
    return typing.get_type_hints(type(owner))[name]


def coerce(value: Any, hint: Any, key: str, origin: str) -> Any:
    """Check `value` against the type hint of field `key` and convert where that is lossless."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [arg for arg in args if arg is not type(None)]
    if value is None:
        raise CultureBenchError(f"{origin}: {key} cannot be null")
    if typing.get_origin(hint) is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise CultureBenchError(f"{origin}: {key} must be a list, got {value!r}")
        return [coerce(element, typing.get_args(hint)[0], key, origin) for element in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise CultureBenchError(f"{origin}: {key} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise CultureBenchError(f"{origin}: {key} must be an integer, got {value!r}")
    if hint is float:
        return _coerce_float(value, key, origin)
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise CultureBenchError(f"{origin}: {key} must be a string, got {value!r}")
    raise CultureBenchError(f"{origin}: {key} has an unsupported type {hint!r}")  # pragma: no cover


def _coerce_float(value: Any, key: str, origin: str) -> float:
    # YAML 1.1 reads `5e-2` (no dot) as a string, so a string that Python parses as a number is accepted.
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CultureBenchError(f"{origin}: {key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise CultureBenchError(f"{origin}: {key} must be a finite number, got {value!r}")
    return float(value)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return the configuration as plain data (what `--print-config` and the run manifest show)."""
    return dataclasses.asdict(config)


def render_config(config: Any) -> str:
    """Render the configuration as YAML with each field's doc as a comment above it."""
    return "".join(_render_lines(config, indent=""))


def _render_lines(config: Any, indent: str):
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        doc = item.metadata.get("doc", "")
        if doc:
            yield f"{indent}# {doc}\n"
        if dataclasses.is_dataclass(value):
            yield f"{indent}{item.name}:\n"
            yield from _render_lines(value, indent + "  ")
        else:
            dumped = yaml.safe_dump({item.name: value}, default_flow_style=True, allow_unicode=True, width=1000)
            # safe_dump wraps a flow mapping in braces: `{key: value}`.
            yield f"{indent}{dumped.strip()[1:-1]}\n"


def field_docs(config_class: type = RunConfig, prefix: str = "") -> list[tuple[str, Any, str]]:
    """Return `(dotted name, default, doc)` for every leaf field, in declaration order."""
    rows = []
    instance = config_class()
    for item in dataclasses.fields(instance):
        value = getattr(instance, item.name)
        if dataclasses.is_dataclass(value):
            rows.extend(field_docs(type(value), f"{prefix}{item.name}."))
        else:
            rows.append((f"{prefix}{item.name}", value, item.metadata.get("doc", "")))
    return rows
