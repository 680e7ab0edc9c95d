"""`culturebench train`: learn a BiPO (dense) or YaPO (SAE latent space) steering vector."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from culturebench.cli.input_checks import check_split
from culturebench.errors import CultureBenchError
from culturebench.items import COUNTRY_LANGUAGE

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a BiPO (dense) or YaPO (sparse, SAE latent space) steering vector",
        description=(
            "Train a steering vector with the bi-directional preference loss on preference pairs built "
            "from the benchmark items (chosen = gold answer, rejected = the unsteered model's own answer) "
            "or read from --pairs. Writes the vector file, a jsonl training log and, while running, a "
            "checkpoint that an interrupted run resumes from. Runs data-parallel under `torchrun` or "
            "`accelerate launch`."
        ),
    )
    parser.add_argument("--method", required=True, choices=("bipo", "yapo"))
    parser.add_argument("--country", help="country id whose items give the pairs (e.g. morocco)")
    parser.add_argument("--setting", default="both", choices=("localized", "nonlocalized", "both"),
                        help="item variants to train on (default both)")
    parser.add_argument("--layer", type=int, default=None,
                        help="decoder block to steer, 0-based (default: the SAE's layer for yapo, else the preset's)")
    parser.add_argument("--sae", default=None,
                        help="yapo: sae-lens folder, params.npz or RELEASE/SAE_ID (default: the preset's SAE)")

    parser.add_argument("--model", default="default", help="preset name, Hugging Face id or local folder (default: default)")
    parser.add_argument("--data", default=None, help="item source (default: the bundled benchmark)")
    parser.add_argument("--split", default="train", help="item split to train on: train or test (default train)")
    parser.add_argument("--eval-split", default="test",
                        help="item split whose pairs give the logged eval loss: train, test or none (default test)")
    parser.add_argument("--protocol", default="auto", choices=("auto", "cloze", "boxed", "open"),
                        help="pair form: cloze (base models), boxed (chat models), open (open-ended answers); "
                             "auto picks boxed when the tokenizer has a chat template")
    parser.add_argument("--exclude-western", action="store_true",
                        help="cloze: never pick the Western control option as the rejected answer")

    parser.add_argument("--pairs", type=Path, default=None,
                        help="jsonl/csv pairs used instead of items: prompt,chosen,rejected; BiPO's "
                             "question,matching,not_matching; or Deep-Culture-Lense rejected_* columns")
    parser.add_argument("--eval-pairs", type=Path, default=None, help="pairs file for the eval loss (with --pairs)")

    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="optimizer steps (default 200)")
    budget.add_argument("--epochs", type=float, default=None, help="passes over the pairs, instead of --steps")
    parser.add_argument("--batch-size", type=int, default=4, help="pairs per step and process (default 4)")
    parser.add_argument("--lr", type=float, default=None,
                        help="AdamW peak learning rate (default: the model preset's, 5e-2 for default; "
                             "5e-4 for other models)")
    parser.add_argument("--weight-decay", type=float, default=0.05, help="AdamW weight decay (default 0.05)")
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="linear warm-up steps (default 100, at most a tenth of the run)")
    parser.add_argument("--beta", type=float, default=0.1, help="β of the preference loss (default 0.1)")
    parser.add_argument("--reference", default="unsteered", choices=("unsteered", "none"),
                        help="divide by the unsteered policy (default) or train reference-free")
    parser.add_argument("--l1", type=float, default=0.0,
                        help="yapo: L1 strength λ1 (soft-threshold after each step; default 0, off)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair order and directions (default 0)")

    parser.add_argument("--eval-every", type=int, default=25, help="log the eval loss every N steps (default 25)")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="write a checkpoint every N steps (default 50)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument("--naive", action="store_true",
                        help="full forwards every step instead of cached block-L states (slower; for checks)")

    parser.add_argument("--pairs-cache", type=Path, default=None,
                        help="jsonl cache of the model's option scores and greedy generations (default: in the "
                             "culturebench cache folder)")
    parser.add_argument("--generation-batch-size", type=int, default=8,
                        help="items per forward or generate call while building pairs (default 8)")

    parser.add_argument("--dtype", default=None, help="model dtype (default bfloat16)")
    parser.add_argument("--device", default=None,
                        help="torch device (default: CUDA when available, under torchrun the GPU of LOCAL_RANK; else CPU)")

    parser.add_argument("--default-multiplier", type=float, default=None,
                        help="multiplier recorded in the file, used when none is given at evaluation (default: "
                             "the model preset's λ for the method, e.g. 8 for bipo on default; else 1)")
    parser.add_argument("--log", type=Path, default=None, help="training log (default: OUT with .log.jsonl)")
    parser.add_argument("--out", required=True, type=Path, help="output .safetensors vector file")
    parser.set_defaults(func=run_train)


def run_train(args) -> int:
    from culturebench.models import load_model
    from culturebench.steering.layers import find_decoder_layout
    from culturebench.steering.training import TrainConfig, train_vector
    from culturebench.steering.vectors import save_vector

    _check_arguments(args)
    dataset = _check_data(args)
    rank, device = _init_distributed(args.device)
    model, tokenizer = load_model(args.model, dtype=args.dtype, device=device)
    layout = find_decoder_layout(model)
    sae = source = None
    layer = args.layer
    if args.method == "yapo":
        sae, source = _load_sae(args, model)
        layer = _sae_layer(source, layout, layer)
    elif layer is None:
        layer = _preset_layer(args.model)
    layout.check_layer(layer)

    pairs, eval_pairs, protocol = _pairs(args, model, tokenizer, rank, dataset)
    config = TrainConfig(
        method=args.method, layer=layer, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=_learning_rate(args), weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, beta=args.beta,
        reference=args.reference, l1=args.l1, seed=args.seed, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, checkpoint_path=_checkpoint_path(args.out),
        log_path=args.log or _log_path(args.out), resume=not args.no_resume, fast=not args.naive,
    )
    try:
        vector, records = train_vector(model, tokenizer, pairs, config, sae=sae, sae_source=source,
                                       eval_pairs=eval_pairs, country=args.country,
                                       setting=args.setting if args.pairs is None else None)
    finally:
        if rank is not None:
            import torch

            torch.distributed.destroy_process_group()
    if rank:
        return 0

    vector.default_multiplier = _default_multiplier(args)
    vector.extra.update({"protocol": protocol, "split": args.split if args.pairs is None else ""})
    path = save_vector(vector, args.out)
    config.checkpoint_path.unlink(missing_ok=True)
    last = records[-1] if records else {}
    summary = f"loss {last.get('loss', float('nan')):.4f}, |v| {vector.norm:.4g}"
    if "eval_loss" in last:
        summary += f", eval loss {last['eval_loss']:.4f}"
    if args.method == "yapo":
        summary += f", {vector.l0} non-zero latents"
    print(f"wrote {args.method} vector for layer {layer} to {path} after {vector.steps} steps on "
          f"{vector.extra['pairs']} pairs ({summary}); log in {config.log_path}")
    return 0


def _check_arguments(args) -> None:
    if args.pairs is None and not args.country:
        raise CultureBenchError("pass --country (items of one country) or --pairs FILE")
    if args.country and args.country not in COUNTRY_LANGUAGE:
        raise CultureBenchError(f"unknown country {args.country!r}; known: {', '.join(sorted(COUNTRY_LANGUAGE))}")
    if args.sae and args.method != "yapo":
        raise CultureBenchError("--sae applies to yapo only; drop it for bipo")
    if args.eval_pairs is not None and args.pairs is None:
        raise CultureBenchError("--eval-pairs needs --pairs; with items the eval pairs come from --eval-split")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise CultureBenchError(f"--lr must be a finite positive number, got {args.lr}")
    if args.default_multiplier is not None and not math.isfinite(args.default_multiplier):
        raise CultureBenchError(f"--default-multiplier must be a finite number, got {args.default_multiplier}")
    check_split(args.split)
    check_split(args.eval_split, "--eval-split", extra=("none",))


def _check_data(args):
    """Check the pairs files, or read the items and return them, so bad data fails before the model loads."""
    if args.pairs is not None:
        from culturebench.steering.pair_files import check_pairs_file

        setting = None if args.setting == "both" else args.setting
        check_pairs_file(args.pairs, country=args.country, setting=setting)
        if args.eval_pairs is not None:
            check_pairs_file(args.eval_pairs, country=args.country, setting=setting)
        return None

    from culturebench.loaders import load_items
    from culturebench.steering.contrast import select_items

    dataset = load_items(args.data)
    select_items([item for item in dataset if item.split == args.split], country=args.country, setting=args.setting)
    return dataset


def _init_distributed(device: str | None) -> tuple[int | None, str | None]:
    """Join the process group that `torchrun` or `accelerate launch` describes in the environment.

    Returns this process's rank (None when not distributed) and its device: with CUDA, the GPU of
    the process's LOCAL_RANK; NCCL joins GPUs and gloo joins CPU processes.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None, device
    import torch

    if device is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank()
    logger.info("data-parallel training: process %d of %d on %s", rank, torch.distributed.get_world_size(), device)
    return rank, device


def _pairs(args, model, tokenizer, rank: int | None, dataset):
    """Build or read the training and eval pairs; under data parallelism rank 0 fills the cache first."""
    import torch

    if rank:
        torch.distributed.barrier()
    try:
        if args.pairs is not None:
            from culturebench.steering.pair_files import load_pairs

            setting = None if args.setting == "both" else args.setting
            pairs = load_pairs(args.pairs, tokenizer, country=args.country, setting=setting)
            eval_pairs = load_pairs(args.eval_pairs, tokenizer, country=args.country, setting=setting) \
                if args.eval_pairs else []
            return pairs, eval_pairs, "pairs"
        return _item_pairs(args, model, tokenizer, dataset)
    finally:
        if rank == 0:
            torch.distributed.barrier()


def _item_pairs(args, model, tokenizer, dataset):
    from culturebench.steering.contrast import select_items
    from culturebench.steering.preferences import build_pairs, resolve_protocol

    protocol = resolve_protocol(args.protocol, tokenizer)
    cache = args.pairs_cache or _default_pairs_cache()
    common = dict(protocol=protocol, cache_path=cache, batch_size=args.generation_batch_size,
                  include_western=not args.exclude_western)
    train_items = select_items([item for item in dataset if item.split == args.split],
                               country=args.country, setting=args.setting)
    pairs = build_pairs(model, tokenizer, train_items, **common)
    if not pairs:
        raise CultureBenchError(
            f"no {protocol} pairs for {args.country} ({args.setting}): the model already answers every "
            f"{args.split} item correctly or gave empty answers; try another protocol or setting"
        )
    eval_pairs = []
    if args.eval_split != "none":
        eval_items = [item for item in dataset if item.split == args.eval_split
                      and item.country == args.country and _in_setting(item, args.setting)]
        eval_pairs = build_pairs(model, tokenizer, eval_items, **common) if eval_items else []
    logger.info("%d training pairs (%s split), %d eval pairs (%s split)", len(pairs), args.split, len(eval_pairs),
                args.eval_split)
    return pairs, eval_pairs, protocol


def _in_setting(item, setting: str) -> bool:
    return setting == "both" or item.variant == setting


def _default_pairs_cache() -> Path:
    from culturebench.model_cache import cache_dir

    return cache_dir() / "preferences" / "responses.jsonl"


def _checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".safetensors") + ".checkpoint.safetensors")


def _log_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".safetensors") + ".log.jsonl")


def _load_sae(args, model):
    from culturebench.models import default_sae_path
    from culturebench.steering.sae import load_sae

    spec = args.sae if args.sae is not None else str(default_sae_path(args.model))
    return load_sae(spec, device=str(next(model.parameters()).device))


def _sae_layer(source, layout, layer):
    from culturebench.steering.sae import check_sae_matches_model

    return check_sae_matches_model(source, layout, layer)


def _preset_layer(model_spec: str) -> int:
    from culturebench.model_presets import get_preset

    preset = get_preset(model_spec)
    if preset is None:
        raise CultureBenchError(f"--layer is required for model {model_spec!r}, which is not a preset")
    return preset.default_layer


def _learning_rate(args) -> float:
    """Return --lr, else the model preset's learning rate, else the reference rate 5e-4."""
    from culturebench.model_presets import preset_learning_rate

    return args.lr if args.lr is not None else preset_learning_rate(args.model)


def _default_multiplier(args) -> float:
    """Return --default-multiplier, else the model preset's λ for the method, else 1."""
    from culturebench.model_presets import preset_multiplier

    if args.default_multiplier is not None:
        return args.default_multiplier
    return preset_multiplier(args.model, args.method)
