"""`culturebench extract`: CAA or SAS steering vectors from the train split or given pairs."""

from __future__ import annotations

import logging
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.items import COUNTRY_LANGUAGE

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract a CAA (dense) or SAS (SAE-space) steering vector",
        description=(
            "Extract a steering vector from contrast pairs: each item's gold option against the "
            "other countries' options (or given chosen/rejected pairs). Activations are read at "
            "the answer tokens of the block output and averaged per example."
        ),
    )
    parser.add_argument("--method", required=True, choices=("caa", "sas"))

    parser.add_argument("--country", help="country id whose items form the contrast set (e.g. morocco)")
    parser.add_argument("--setting", default="both", choices=("localized", "nonlocalized", "both"),
                        help="which variants of the items to use (default both)")
    parser.add_argument("--layer", type=int, default=None,
                        help="decoder block to read, 0-based (default: the SAE's layer, else the preset's layer)")
    parser.add_argument("--model", default="default", help="preset name, Hugging Face id or local folder (default: default)")
    parser.add_argument("--data", default=None, help="item source (default: the bundled benchmark)")
    parser.add_argument("--split", default="train", help="item split to read: train or test (default train)")
    parser.add_argument("--pairs", type=Path, default=None,
                        help="jsonl with prompt, chosen and rejected fields, used instead of items")
    parser.add_argument("--format", default="auto", choices=("auto", "cloze", "mcq"),
                        help="prompt format: cloze for base models, mcq (chat template + \\boxed{k}) for chat "
                             "models; auto picks mcq when the tokenizer has a chat template")
    parser.add_argument("--include-western", action="store_true",
                        help="also use the Western control option as a negative answer")

    parser.add_argument("--sae", default=None,
                        help="SAE for SAS: sae-lens folder, params.npz or RELEASE/SAE_ID (default: the preset's SAE)")
    parser.add_argument("--tau", type=float, default=0.7,
                        help="SAS: minimum fraction of positive examples a latent must be active on (default 0.7)")

    parser.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass (default 8)")
    parser.add_argument("--dtype", default="float32", help="model dtype while reading activations (default float32)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available, else CPU)")
    parser.add_argument("--default-multiplier", type=float, default=None,
                        help="multiplier recorded in the file, used when none is given at evaluation (default: "
                             "the model preset's λ for the method, e.g. 8 for caa on default; else 1)")
    parser.add_argument("--out", required=True, type=Path, help="output .safetensors vector file")
    parser.set_defaults(func=run_extract)


def run_extract(args) -> int:
    from culturebench.cli.input_checks import check_split
    from culturebench.models import load_model
    from culturebench.steering.contrast import groups_from_pairs, groups_sha256
    from culturebench.steering.identity import canonical_model_id, model_revision_of
    from culturebench.steering.layers import find_decoder_layout

    if args.pairs is None and not args.country:
        raise CultureBenchError("pass --country (items of one country) or --pairs FILE")
    if args.country and args.country not in COUNTRY_LANGUAGE:
        raise CultureBenchError(f"unknown country {args.country!r}; known: {', '.join(sorted(COUNTRY_LANGUAGE))}")
    check_split(args.split)

    # The data is read before the model loads, so a bad file, split or country fails at once.
    if args.pairs is not None:
        groups = groups_from_pairs(args.pairs)
        selected = None
    else:
        selected = _select_items(args)

    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    layout = find_decoder_layout(model)
    sae = source = None
    layer = args.layer
    if args.method == "sas":
        sae, source = _load_sae(args, layout, model)
        layer = _sae_layer(source, layout, layer)
        logger.info("SAS reads layer %d through SAE %s", layer, source.spec)
    elif layer is None:
        layer = _preset_layer(args.model)
    layout.check_layer(layer)

    if selected is None:
        prompt_format = "pairs"
    else:
        groups, prompt_format = _item_groups(args, selected, tokenizer)

    vector, stats = _extract(args, model, tokenizer, groups, layer, sae)
    path = _save(args, vector, stats, layer, layout, source, prompt_format,
                 canonical_model_id(args.model), model_revision_of(model), groups_sha256(groups))
    print(f"wrote {args.method} vector for layer {layer} to {path} ({_describe(vector, stats)})")
    return 0


def _select_items(args) -> list:
    from culturebench.loaders import load_items
    from culturebench.steering.contrast import select_items

    dataset = load_items(args.data)
    items = [item for item in dataset if item.split == args.split]
    return select_items(items, country=args.country, setting=args.setting)


def _item_groups(args, selected, tokenizer):
    from culturebench.steering.contrast import groups_from_items

    prompt_format = args.format
    if prompt_format == "auto":
        prompt_format = "mcq" if getattr(tokenizer, "chat_template", None) else "cloze"
    groups = groups_from_items(selected, format=prompt_format, tokenizer=tokenizer,
                               include_western=args.include_western)
    logger.info("%d %s items of %s (%s) give %d contrast groups", len(selected), args.split, args.country,
                args.setting, len(groups))
    return groups, prompt_format


def _extract(args, model, tokenizer, groups, layer, sae):
    from culturebench.steering.extract import extract_caa, extract_sas

    if args.method == "caa":
        return extract_caa(model, tokenizer, groups, layer, batch_size=args.batch_size)
    return extract_sas(model, tokenizer, groups, layer, sae, tau=args.tau, batch_size=args.batch_size)


def _load_sae(args, layout, model):
    from culturebench.models import default_sae_path
    from culturebench.steering.sae import load_sae

    spec = args.sae if args.sae is not None else str(default_sae_path(args.model))
    device = str(next(model.parameters()).device)
    return load_sae(spec, device=device)


def _sae_layer(source, layout, layer):
    from culturebench.steering.sae import check_sae_matches_model

    return check_sae_matches_model(source, layout, layer)


def _preset_layer(model_spec: str) -> int:
    from culturebench.model_presets import get_preset

    preset = get_preset(model_spec)
    if preset is None:
        raise CultureBenchError(f"--layer is required for model {model_spec!r}, which is not a preset")
    return preset.default_layer


def _save(args, vector, stats, layer, layout, source, prompt_format, model_id, revision, data_hash) -> Path:
    from culturebench.model_presets import preset_multiplier
    from culturebench.steering.extract import READ_POSITIONS
    from culturebench.steering.vectors import SteeringVector, save_vector

    extra = {
        "format": prompt_format,
        "read_positions": READ_POSITIONS,
        "split": args.split if args.pairs is None else "",
        "include_western": str(bool(args.include_western)).lower(),
        **{key: str(value) for key, value in stats.items()},
    }
    if args.method == "sas":
        extra["tau"] = str(args.tau)
    steering_vector = SteeringVector(
        vector=vector,
        method=args.method,
        layer=layer,
        space="sae" if args.method == "sas" else "dense",
        model_id=model_id,
        hookpoint=layout.hookpoint(layer),
        model_revision=revision,
        sae=source,
        default_multiplier=(args.default_multiplier if args.default_multiplier is not None
                            else preset_multiplier(args.model, args.method)),
        training_data_sha256=data_hash,
        country=args.country,
        setting=args.setting if args.pairs is None else None,
        extra=extra,
    )
    return save_vector(steering_vector, args.out)


def _describe(vector, stats) -> str:
    nonzero = int((vector != 0).sum())
    parts = [f"norm {float(vector.norm()):.3f}", f"{nonzero} non-zero entries"]
    parts += [f"{key} {value}" for key, value in stats.items()]
    return ", ".join(parts)
