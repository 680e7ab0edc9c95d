"""Train a sparse autoencoder on a decoder block's output with sae-lens's training runner.

The runner wraps the Hugging Face model itself (`AutoModelForCausalLM`, not TransformerLens) and
stops each forward pass after the hooked block. The corpus is tokenized here into fixed-length
rows that start with <bos>; <bos> positions are excluded from training because their residual
norm in Gemma 3 is an order of magnitude above every other token's. Activations are rescaled to
an expected norm of sqrt(d_model) during training, and sae-lens folds that factor back into the
weights before saving, so the saved SAE takes raw block outputs.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from culturebench.atomic_files import atomic_path, write_text_atomic
from culturebench.errors import CultureBenchError
from culturebench.model_presets import get_preset
from culturebench.models import resolve_model_path

logger = logging.getLogger(__name__)

TRAINING_RECORD = "training.json"


@dataclass
class SaeTrainingSettings:
    """Everything that determines a trained SAE; stored beside its weights as training.json."""

    model: str = "default"
    layer: int | None = None  # None: the preset's default steering layer
    width: int = 2048
    k: int | None = 64  # TopK; set None and give `l1` for a standard ReLU SAE with an L1 penalty
    l1: float | None = None
    tokens: int = 1_000_000
    corpus: str = ""  # folder with train.jsonl (and heldout.jsonl), or a jsonl file
    context_size: int = 128
    batch_tokens: int = 1024
    lr: float = 2e-3
    lr_warm_up_steps: int = 50
    aux_loss_coefficient: float = 1.0
    dead_feature_window: int = 150  # training steps without firing before the TopK auxiliary loss revives a latent
    norm_estimate_batches: int = 20
    init_rows: int = 64  # rows whose mean activation initialises the decoder bias
    checkpoints: int = 0  # intermediate checkpoints, kept in <out>-checkpoints until training finishes
    model_dtype: str = "bfloat16"
    device: str = "cpu"
    seed: int = 0
    save_dtype: str = "float16"
    extra: dict = field(default_factory=dict)


def corpus_files(corpus: str) -> tuple[Path, Path | None]:
    """Return the training jsonl and the held-out jsonl (if any) of a corpus folder or file."""
    path = Path(corpus).expanduser()
    if path.is_dir():
        train = path / "train.jsonl"
        heldout = path / "heldout.jsonl"
        if not train.is_file():
            raise CultureBenchError(
                f"corpus folder {path} has no train.jsonl; build one with `culturebench sae corpus --out {path}`"
            )
        return train, heldout if heldout.is_file() else None
    if path.is_file():
        return path, None
    raise CultureBenchError(
        f"corpus {corpus!r} not found; pass a folder built by `culturebench sae corpus` or a jsonl file with a text field"
    )


def read_texts(path: Path) -> list[str]:
    """Return the `text` field of every row of a jsonl file."""
    with path.open(encoding="utf-8") as source:
        return [json.loads(line)["text"] for line in source if line.strip()]


def pack_rows(texts: list[str], tokenizer, context_size: int, max_tokens: int, seed: int | None) -> list[list[int]]:
    """Tokenize texts and pack them into rows of `context_size` tokens, each starting with <bos>.

    Texts are shuffled with `seed` first, or kept in order when `seed` is None.

    Each document is tokenized with its own <bos>, as the model saw during pretraining; a row that
    starts mid-document gets a <bos> in front as well.
    """
    order = list(range(len(texts)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    bos = tokenizer.bos_token_id
    body = context_size - 1
    rows: list[list[int]] = []
    buffer: list[int] = []
    for index in order:
        ids = tokenizer(texts[index], add_special_tokens=False).input_ids
        buffer.extend([bos, *ids])
        while len(buffer) >= body:
            rows.append([bos, *buffer[:body]])
            buffer = buffer[body:]
        if len(rows) * context_size >= max_tokens:
            break
    return rows


def build_runner_config(settings: SaeTrainingSettings, model_path: str, hidden_size: int, layer: int,
                        corpus_label: str, work_dir: Path, checkpoint_dir: Path):
    """Return sae-lens's `LanguageModelSAERunnerConfig` for `settings`."""
    from sae_lens import LanguageModelSAERunnerConfig, LoggingConfig, StandardTrainingSAEConfig, TopKTrainingSAEConfig

    common = dict(d_in=hidden_size, d_sae=settings.width, dtype="float32", device=settings.device,
                  normalize_activations="expected_average_only_in")
    if settings.k is not None:
        sae_config = TopKTrainingSAEConfig(k=settings.k, aux_loss_coefficient=settings.aux_loss_coefficient, **common)
    elif settings.l1 is not None:
        sae_config = StandardTrainingSAEConfig(l1_coefficient=settings.l1, **common)
    else:
        raise CultureBenchError("give either --k (TopK SAE) or --l1 (standard SAE with an L1 penalty)")
    steps = max(1, settings.tokens // settings.batch_tokens)
    return LanguageModelSAERunnerConfig(
        sae=sae_config,
        model_name=model_path,
        model_class_name="AutoModelForCausalLM",
        model_from_pretrained_kwargs={"dtype": settings.model_dtype},
        hook_name=f"model.layers.{layer}",
        dataset_path=corpus_label,
        is_dataset_tokenized=True,
        streaming=False,
        context_size=settings.context_size,
        prepend_bos=True,
        exclude_special_tokens=True,
        training_tokens=steps * settings.batch_tokens,
        train_batch_size_tokens=settings.batch_tokens,
        store_batch_size_prompts=8,
        # A producer thread runs the model's forward pass while the SAE trains on the previous batch.
        prefetch_llm_batches=True,
        n_batches_in_buffer=16,
        lr=settings.lr,
        lr_warm_up_steps=min(settings.lr_warm_up_steps, steps // 10),
        lr_decay_steps=steps // 5,
        dead_feature_window=settings.dead_feature_window,
        feature_sampling_window=max(settings.dead_feature_window, 100),
        n_batches_for_norm_estimate=settings.norm_estimate_batches,
        n_eval_batches=2,
        device=settings.device,
        seed=settings.seed,
        logger=LoggingConfig(log_to_wandb=False),
        output_path=str(work_dir / "final"),
        checkpoint_path=str(checkpoint_dir),
        n_checkpoints=settings.checkpoints,
        save_final_checkpoint=False,
        verbose=True,
    )


def initial_sae(runner_config, model_path: str, settings: SaeTrainingSettings, layer: int, rows: list[list[int]]):
    """Build the untrained SAE with its decoder bias set to the mean activation.

    Gemma 3's block outputs share a large mean (norm about 5,000 at layer 7, against about 1,200
    for a token's deviation from it). sae-lens 6 initialises the decoder bias to zero, so at first
    every token's pre-activations are dominated by that shared direction, the same latents win
    the top-k for every token, and most latents never fire. Starting from the mean avoids that.
    """
    import torch
    from sae_lens import TrainingSAE, TrainingSAEConfig
    from transformers import AutoTokenizer

    from culturebench.models import load_model
    from culturebench.sae_eval import activations_of_rows

    sae = TrainingSAE.from_dict(TrainingSAEConfig.from_dict(runner_config.get_training_sae_cfg_dict()).to_dict())
    model, _ = load_model(model_path, dtype=settings.model_dtype, device=settings.device)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    sample = activations_of_rows(model, tokenizer, rows[:settings.init_rows], layer)
    del model
    # The runner trains on activations rescaled to an expected norm of sqrt(d_model). The bias
    # lives in that space, so it gets the same factor, estimated on this sample.
    scale = sample.shape[-1] ** 0.5 / sample.norm(dim=-1).mean()
    with torch.no_grad():
        sae.b_dec.copy_((sample.mean(dim=0) * scale).to(sae.b_dec.dtype))
    return sae


def train_sae(settings: SaeTrainingSettings, out_dir: Path) -> dict:
    """Train an SAE, save it to `out_dir` in sae-lens format and return its quality numbers.

    The returned dict (also written to `out_dir/training.json` with the settings) contains the
    held-out evaluation from `culturebench.sae_eval.evaluate_sae` plus training tokens per second.
    """
    import datasets
    import torch
    from sae_lens import LanguageModelSAETrainingRunner
    from transformers import AutoConfig, AutoTokenizer

    from culturebench.sae_eval import evaluate_sae, load_sae

    preset = get_preset(settings.model)
    layer = settings.layer
    if layer is None and preset is not None:
        layer = preset.default_layer
    if layer is None:
        raise CultureBenchError(f"model {settings.model!r} is not a preset, so --layer is required")
    model_path = resolve_model_path(settings.model)
    config = AutoConfig.from_pretrained(model_path)
    if not 0 <= layer < config.num_hidden_layers:
        raise CultureBenchError(f"--layer {layer} is out of range; {settings.model} has layers 0-{config.num_hidden_layers - 1}")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    train_path, heldout_path = corpus_files(settings.corpus)

    # A margin of rows keeps sae-lens's mixing buffer from starting a second epoch for the last steps.
    target_tokens = int(settings.tokens * 1.05) + 64 * settings.context_size
    rows = pack_rows(read_texts(train_path), tokenizer, settings.context_size, target_tokens, settings.seed)
    available = len(rows) * settings.context_size
    if available < target_tokens:
        logger.warning("Corpus %s has only %d tokens; training passes over it %.1f times",
                       train_path, available, target_tokens / max(available, 1))
        repeats = -(-target_tokens // max(available, 1))
        rows = rows * repeats
    dataset = datasets.Dataset.from_dict({"input_ids": rows})
    torch.manual_seed(settings.seed)

    work_dir = Path(tempfile.mkdtemp(prefix="culturebench-sae-"))
    checkpoint_dir = out_dir.with_name(f"{out_dir.name}-checkpoints")
    try:
        runner_config = build_runner_config(settings, model_path, config.hidden_size, layer, str(train_path),
                                            work_dir, checkpoint_dir)
        started = time.perf_counter()
        sae = initial_sae(runner_config, model_path, settings, layer, rows)
        LanguageModelSAETrainingRunner(runner_config, override_dataset=dataset, override_sae=sae).run()
        seconds = time.perf_counter() - started
        _export(work_dir / "final", out_dir, settings, layer)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    sae = load_sae(out_dir)
    quality: dict = {"training_seconds": round(seconds, 1),
                     "training_tokens_per_second": round(runner_config.training_tokens / seconds, 1)}
    if heldout_path is not None:
        from culturebench.models import load_model

        model, _ = load_model(settings.model, dtype=settings.model_dtype, device=settings.device)
        quality.update(evaluate_sae(sae, model, tokenizer, read_texts(heldout_path), layer,
                                    context_size=settings.context_size).as_dict())
    record = {"settings": asdict(settings), "layer": layer, "hook": f"model.layers.{layer}",
              "quality": quality, "corpus_manifest": _read_manifest(train_path)}
    _write_json(out_dir / TRAINING_RECORD, record)
    return quality


def export_checkpoint(checkpoint_dir: Path, out_dir: Path, settings: SaeTrainingSettings, layer: int) -> None:
    """Save an intermediate sae-lens training checkpoint as an inference SAE in `out_dir`.

    A checkpoint contains the SAE as trained on rescaled activations, and the scaling factor sits in
    activation_scaler.json. The factor is folded into the weights here, as sae-lens does at the end
    of training.
    """
    from sae_lens import TrainingSAE

    scaler = json.loads((checkpoint_dir / "activation_scaler.json").read_text(encoding="utf-8"))
    sae = TrainingSAE.load_from_disk(str(checkpoint_dir), device="cpu")
    if scaler.get("scaling_factor") is not None:
        sae.fold_activation_norm_scaling_factor(scaler["scaling_factor"])
    staging = Path(tempfile.mkdtemp(prefix="culturebench-sae-export-"))
    try:
        sae.save_inference_model(str(staging))
        _export(staging, out_dir, settings, layer)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export(trained_dir: Path, out_dir: Path, settings: SaeTrainingSettings, layer: int) -> None:
    """Copy the trained SAE to `out_dir` with weights in `settings.save_dtype` and portable metadata."""
    import torch
    from safetensors.torch import load_file, save_file

    cfg = json.loads((trained_dir / "cfg.json").read_text(encoding="utf-8"))
    # The runner records the local cache path of the model; a preset name travels across machines.
    cfg["metadata"]["model_name"] = settings.model
    cfg["metadata"]["hook_name"] = f"model.layers.{layer}"
    cfg["metadata"]["dataset_path"] = Path(settings.corpus).name
    weights = load_file(str(trained_dir / "sae_weights.safetensors"))
    dtype = getattr(torch, settings.save_dtype)
    weights = {name: tensor.to(dtype).contiguous() for name, tensor in weights.items()}

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "sae_weights.safetensors", fsync=False) as temporary:
        save_file(weights, str(temporary), metadata={"format": "pt"})
    _write_json(out_dir / "cfg.json", cfg)


def _read_manifest(train_path: Path) -> dict | None:
    manifest = train_path.parent / "manifest.json"
    if not manifest.is_file():
        return None
    content = json.loads(manifest.read_text(encoding="utf-8"))
    return {"documents": content.get("documents"), "counts": content.get("counts"),
            "sampling": content.get("sampling"), "debian_packages": content.get("debian_packages")}


def _write_json(path: Path, content: dict) -> None:
    write_text_atomic(path, json.dumps(content, ensure_ascii=False, indent=2))
