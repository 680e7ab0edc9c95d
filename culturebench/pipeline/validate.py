"""Check a run configuration before any compute and resolve it into a `Plan`.

Everything here reads configuration files and headers only: model `config.json`, SAE
`cfg.json`, vector file headers and the item files. No weights are loaded, so a bad setting
fails in seconds with a message that names the value and the fix.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.items import COUNTRY_LANGUAGE
from culturebench.pipeline.config import EVAL_SCOPES, METHODS, POSITIONS, PROTOCOLS, REFERENCES, SETTINGS, RunConfig
from culturebench.pipeline.plan import (
    BASELINE, SAE_METHODS, TRAINED_METHODS, EvalJob, ModelInfo, Plan, SAEInfo, VectorJob,
)
from culturebench.pipeline.state import hash_file, hash_json

logger = logging.getLogger(__name__)

DTYPES = ("bfloat16", "float16", "float32", "auto")


def build_plan(config: RunConfig) -> Plan:
    """Validate `config` and return the run's plan.

    Raises:
        CultureBenchError: naming the first invalid setting and how to fix it.
    """
    check_settings(config)
    language = COUNTRY_LANGUAGE[config.country]
    dataset, data_identity = _load_data(config, language)
    model = model_info(config.model)
    resolve_model_defaults(config)
    needs_sae = any(method in SAE_METHODS for method in config.methods)
    sae = sae_info(config, model) if needs_sae else None
    layer = _resolve_layer(config, model, sae)
    protocol = _resolve_protocol(config, model)
    if any(method in TRAINED_METHODS for method in config.methods):
        check_training_available()
    if config.judge.spec:
        _check_judge(config.judge.spec)

    plan = Plan(
        config=config,
        run_dir=config.run_dir.resolve(),
        language=language,
        model=model,
        layer=layer,
        protocol=protocol,
        device=_resolve_device(config.device),
        sae=sae,
        dataset=dataset,
        data_identity=data_identity,
        tasks=_tasks(config, language, protocol),
        open_tasks=_tasks(config, language, "oe") if config.judge.spec else [],
    )
    _check_items(plan)
    plan.vectors = [VectorJob(method, config.country, setting) for setting in config.settings for method in config.methods]
    plan.evals = _eval_jobs(plan)
    return plan


def resolve_model_defaults(config: RunConfig) -> None:
    """Fill the learning rate and multipliers left null with the model preset's values (5e-4 and 1 otherwise).

    The resolved values are written into `config`, so the run's `config.yaml` and the hashes that decide
    which stages rerun hold the numbers actually used.
    """
    from culturebench.model_presets import preset_learning_rate, preset_multiplier

    if config.train.learning_rate is None:
        config.train.learning_rate = preset_learning_rate(config.model)
    for method in METHODS:
        if getattr(config.multipliers, method) is None:
            setattr(config.multipliers, method, preset_multiplier(config.model, method))
    if config.train.learning_rate <= 0:
        raise CultureBenchError(f"train.learning_rate must be positive, got {config.train.learning_rate}")


def check_settings(config: RunConfig) -> None:
    """Check the settings that need no file: names, choices and ranges."""
    _check_names(config)
    _check_counts(config)
    _check_ranges(config)


def _check_names(config: RunConfig) -> None:
    if config.country not in COUNTRY_LANGUAGE:
        raise CultureBenchError(
            f"unknown country {config.country!r}; choose one of {', '.join(sorted(COUNTRY_LANGUAGE))}"
        )
    _check_choices("settings", config.settings, SETTINGS)
    _check_choices("methods", config.methods, METHODS, allow_empty=True)
    _check_choice("protocol", config.protocol, PROTOCOLS)
    _check_choice("positions", config.positions, POSITIONS)
    _check_choice("dtype", config.dtype, DTYPES)
    _check_choice("eval.scope", config.eval.scope, EVAL_SCOPES)
    _check_choice("train.reference", config.train.reference, REFERENCES)


def _check_counts(config: RunConfig) -> None:
    for name, value in (
        ("train.steps", config.train.steps),
        ("train.batch_size", config.train.batch_size),
        ("train.pair_batch_size", config.train.pair_batch_size),
        ("extract.batch_size", config.extract.batch_size),
        ("eval.batch_size", config.eval.batch_size),
        ("judge.concurrency", config.judge.concurrency),
        ("judge.max_tokens", config.judge.max_tokens),
    ):
        if value < 1:
            raise CultureBenchError(f"{name} must be at least 1, got {value}")
    for name, value in (("train_items", config.train_items), ("eval.limit", config.eval.limit),
                        ("eval.max_gen_toks", config.eval.max_gen_toks)):
        if value is not None and value < 1:
            raise CultureBenchError(f"{name} must be at least 1 or null (no limit), got {value}")
    for name, value, zero in (
        ("train.warmup_steps", config.train.warmup_steps, "no warm-up"),
        ("train.checkpoint_every", config.train.checkpoint_every, "no checkpoints"),
        ("train.eval_every", config.train.eval_every, "no held-out loss"),
    ):
        if value < 0:
            raise CultureBenchError(f"{name} must be 0 ({zero}) or more, got {value}")


def _check_ranges(config: RunConfig) -> None:
    if config.train.l1 < 0:
        raise CultureBenchError(f"train.l1 must be 0 or more, got {config.train.l1}")
    if not 0 < config.extract.tau <= 1:
        raise CultureBenchError(f"extract.tau must be a fraction in (0, 1], got {config.extract.tau}")
    if config.alpha < 0:
        raise CultureBenchError(f"alpha must be 0 or more, got {config.alpha}")
    if config.judge.timeout <= 0:
        raise CultureBenchError(f"judge.timeout must be positive, got {config.judge.timeout}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise CultureBenchError(f"invalid {name} {value!r}; choose one of {', '.join(choices)}")


def _check_choices(name: str, values: list[str], choices: tuple[str, ...], allow_empty: bool = False) -> None:
    for value in values:
        if value not in choices:
            raise CultureBenchError(f"invalid {name} entry {value!r}; choose from {', '.join(choices)}")
    if len(set(values)) != len(values):
        raise CultureBenchError(f"{name} lists an entry twice: {values}")
    if not values and not allow_empty:
        raise CultureBenchError(f"{name} is empty; name at least one of {', '.join(choices)}")


def _load_data(config: RunConfig, language: str):
    from culturebench.loaders import default_source, load_items

    source = config.data or default_source()
    dataset = load_items(source)
    relevant = [item.to_dict() for item in dataset if item.language == language]
    return dataset, hash_json({"origin": dataset.origin, "items": relevant})


def _check_items(plan: Plan) -> None:
    """Check that the data has train items for every setting and test items to evaluate."""
    country = plan.config.country
    for setting in plan.config.settings if plan.config.methods else ():
        if not plan.train_items(setting):
            raise CultureBenchError(
                f"no train items for {country} in setting {setting!r} in {plan.dataset.origin}; pick another "
                "country or data source (`culturebench data stats` lists what it holds)"
            )
    for variant in ("localized", "nonlocalized"):
        if not plan.test_items(variant):
            raise CultureBenchError(
                f"no {variant} test items for {country} in {plan.dataset.origin}; the evaluation needs both variants"
            )


def model_info(spec: str) -> ModelInfo:
    """Describe the model `spec` from its preset or its `config.json`, without loading weights."""
    from culturebench.model_presets import get_preset
    from culturebench.steering.identity import canonical_model_id

    preset = get_preset(spec)
    if preset is not None and preset.offline:
        from culturebench.model_cache import expected_marker
        from culturebench.model_presets import gguf_source

        identity = expected_marker(preset, gguf_source(preset))
        return ModelInfo(spec, preset.hub_id, preset.num_layers, preset.hidden_size, preset.chat_template, identity)

    path = Path(spec).expanduser()
    if path.is_dir():
        config = _read_model_config(path)
        identity = {
            "path": str(path.resolve()),
            "config_sha256": hash_file(path / "config.json"),
            # Sizes and times stand in for hashing gigabytes of weights on every run.
            "weights": sorted(
                (child.name, child.stat().st_size, child.stat().st_mtime_ns)
                for child in path.iterdir() if child.suffix in (".safetensors", ".bin")
            ),
        }
        chat = _has_chat_template(path)
        return ModelInfo(spec, canonical_model_id(str(path)), *_shape(config, spec), chat, identity)

    hub_id = preset.hub_id if preset is not None else spec
    try:
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(hub_id).to_dict()
        chat = bool(getattr(AutoTokenizer.from_pretrained(hub_id), "chat_template", None))
    except (OSError, ValueError) as error:
        raise CultureBenchError(
            f"model {spec!r} is neither a preset nor a local folder, and its config could not be read from the "
            f"Hugging Face hub or cache ({error}); pass a local HF-format folder or an offline preset such as default"
        ) from error
    return ModelInfo(spec, hub_id, *_shape(config, spec), chat, {"hub_id": hub_id})


def _read_model_config(path: Path) -> dict:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CultureBenchError(f"model folder {path} has no readable config.json ({error}); pass an HF-format "
                                "folder written by save_pretrained") from error


def _shape(config: dict, spec: str) -> tuple[int, int]:
    text = config.get("text_config") or config
    try:
        return int(text["num_hidden_layers"]), int(text["hidden_size"])
    except (KeyError, TypeError, ValueError) as error:
        raise CultureBenchError(f"the config of model {spec!r} lacks num_hidden_layers or hidden_size") from error


def _has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    try:
        tokenizer_config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(tokenizer_config.get("chat_template"))


def sae_info(config: RunConfig, model: ModelInfo) -> SAEInfo:
    """Find the SAE for SAS and YaPO and check it against the model, reading only `cfg.json`."""
    from culturebench.models import default_sae_path

    if config.sae is None:
        try:
            spec = str(default_sae_path(config.model))
        except CultureBenchError as error:
            raise CultureBenchError(
                f"SAS and YaPO need an SAE, but {error}. Set sae=PATH (a sae-lens folder) or drop sas and yapo "
                "from methods"
            ) from error
    else:
        spec = config.sae
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "cfg.json").is_file():
        return _local_sae(spec, path, model)
    if path.exists() or spec.startswith((".", "/", "~")) or "/" not in spec:
        if not path.exists():
            raise CultureBenchError(f"SAE {spec!r} not found; set sae to a sae-lens folder (cfg.json + "
                                    "sae_weights.safetensors), a params.npz file or RELEASE/SAE_ID")
        # A Gemma Scope params.npz: its shape is checked when it is loaded.
        return SAEInfo(spec, None, None, None, {"path": str(path.resolve()), "sha256": hash_file(
            path if path.is_file() else path / "params.npz")})
    return SAEInfo(spec, None, None, None, {"release_id": spec})


def _local_sae(spec: str, path: Path, model: ModelInfo) -> SAEInfo:
    from culturebench.steering.sae import hook_name_to_layer

    try:
        cfg = json.loads((path / "cfg.json").read_text(encoding="utf-8"))
        d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CultureBenchError(f"SAE {spec}: cfg.json is unreadable or lacks d_in/d_sae ({error})") from error
    weights = path / "sae_weights.safetensors"
    if not weights.is_file():
        raise CultureBenchError(f"SAE {spec} has no sae_weights.safetensors; reinstall or retrain it")
    if d_in != model.hidden_size:
        raise CultureBenchError(
            f"SAE {spec} reads vectors of size {d_in} but model {model.spec!r} has hidden size "
            f"{model.hidden_size}; use an SAE trained on this model"
        )
    hook_name = (cfg.get("metadata") or {}).get("hook_name") or cfg.get("hook_name")
    layer = hook_name_to_layer(hook_name) if hook_name else None
    identity = {"cfg_sha256": hash_file(path / "cfg.json"), "weights_sha256": hash_file(weights)}
    return SAEInfo(spec, d_in, d_sae, layer, identity)


def _resolve_layer(config: RunConfig, model: ModelInfo, sae: SAEInfo | None) -> int | None:
    """Return the steered layer: the SAE's, else the configured one, else the preset's; None without methods."""
    from culturebench.model_presets import get_preset

    layer = config.layer
    if not config.methods and layer is None:
        return None
    if sae is not None and sae.layer is not None:
        if layer is not None and layer != sae.layer:
            raise CultureBenchError(
                f"layer {layer} differs from the layer the SAE {sae.spec} reads ({sae.layer}); set layer="
                f"{sae.layer}, pick an SAE of layer {layer}, or drop sas and yapo from methods"
            )
        layer = sae.layer
    if layer is None:
        preset = get_preset(config.model)
        if preset is None:
            raise CultureBenchError(f"set layer: model {config.model!r} is not a preset, so it has no default layer")
        layer = preset.default_layer
    if not 0 <= layer < model.num_layers:
        raise CultureBenchError(
            f"layer {layer} is out of range: model {config.model!r} has {model.num_layers} decoder blocks "
            f"(0 to {model.num_layers - 1})"
        )
    return layer


def _resolve_protocol(config: RunConfig, model: ModelInfo) -> str:
    if config.protocol != "auto":
        return config.protocol
    return "mcq" if model.chat_template else "ll"


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_training_available() -> None:
    """Raise when BiPO/YaPO training cannot be imported, instead of evaluating without those vectors."""
    try:
        from culturebench.steering import preferences, training  # noqa: F401
    except ImportError as error:
        raise CultureBenchError(
            f"BiPO and YaPO training is not available in this installation ({error}); reinstall culturebench, "
            "or drop bipo and yapo from methods (--set methods=caa,sas)"
        ) from error


def _check_judge(spec: str) -> None:
    from culturebench.judges import parse_spec

    parse_spec(spec)


def _tasks(config: RunConfig, language: str, protocol: str) -> list[str]:
    from culturebench.tasks.table import PROTOCOLS, task_name

    country = config.country if config.eval.scope == "country" else None
    return [task_name(language, country, "both", PROTOCOLS[protocol])]


def _eval_jobs(plan: Plan) -> list[EvalJob]:
    config = plan.config
    jobs = [EvalJob(BASELINE, BASELINE, None, None)]
    for job in plan.vectors:
        multiplier = getattr(config.multipliers, job.method)
        jobs.append(EvalJob(job.name, job.method, job.setting, job.country, plan.run_dir / job.path, multiplier))
    names = {job.name for job in jobs}
    for text in config.eval.vectors:
        vector = check_extra_vector(Path(text).expanduser(), plan)
        name = f"given-{Path(text).stem}"
        if name in names:
            raise CultureBenchError(f"eval.vectors lists two files named {Path(text).stem!r}; rename one")
        names.add(name)
        jobs.append(EvalJob(name, vector.method, vector.setting, vector.country, Path(text).expanduser().resolve(),
                            vector.default_multiplier, given=True))
    return jobs


def check_extra_vector(path: Path, plan: Plan):
    """Read a given vector file's header and check it against the run's model and SAE."""
    from culturebench.steering.sae import recorded_sae_spec
    from culturebench.steering.vectors import load_vector, same_model_id

    vector = load_vector(path)
    model = plan.model
    if not same_model_id(vector.model_id, model.model_id):
        raise CultureBenchError(
            f"vector {path} was made for model {vector.model_id!r} but this run uses {model.model_id!r}; "
            "evaluate it with its own model or remove it from eval.vectors"
        )
    if not 0 <= vector.layer < model.num_layers:
        raise CultureBenchError(
            f"vector {path} steers layer {vector.layer} but model {model.spec!r} has {model.num_layers} blocks"
        )
    if vector.space == "dense" and vector.vector.shape[0] != model.hidden_size:
        raise CultureBenchError(
            f"vector {path} has {vector.vector.shape[0]} entries but model {model.spec!r} has hidden size "
            f"{model.hidden_size}"
        )
    if vector.space == "sae":
        sae_spec = recorded_sae_spec(vector.sae)
        if not Path(sae_spec).expanduser().exists() and (sae_spec.startswith((".", "/", "~")) or "/" not in sae_spec):
            raise CultureBenchError(
                f"vector {path} needs its SAE {vector.sae.spec}, which is not found; restore the SAE or remove the "
                "vector from eval.vectors"
            )
        if vector.sae.d_in != model.hidden_size:
            raise CultureBenchError(
                f"vector {path} was made with an SAE of input size {vector.sae.d_in} but model {model.spec!r} has "
                f"hidden size {model.hidden_size}"
            )
    return vector
