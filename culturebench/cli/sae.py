"""`culturebench sae`: build the SAE training corpus, train an SAE with sae-lens, evaluate one."""

from __future__ import annotations

import json
from pathlib import Path

from culturebench.errors import CultureBenchError


def register(subparsers) -> None:
    parser = subparsers.add_parser("sae", help="build the SAE corpus, train and evaluate sparse autoencoders")
    commands = parser.add_subparsers(dest="sae_command", metavar="ACTION", required=True)

    corpus = commands.add_parser("corpus", help="build the multilingual training corpus offline")
    corpus.add_argument("--out", default="default", help="corpus folder ('default': <cache>/corpus/default)")
    corpus.add_argument("--model", default="default", help="model whose continuations are sampled and whose tokenizer counts tokens")
    corpus.add_argument("--sample-tokens", type=int, default=20_000,
                        help="tokens of model-sampled continuations to have in the folder (0 skips sampling)")
    corpus.add_argument("--max-chars-per-language", type=int, default=1_500_000, help="character cap per language")
    corpus.add_argument("--heldout-fraction", type=float, default=0.05, help="share of documents held out")
    corpus.add_argument("--no-debian", action="store_true", help="skip the Debian text packages (needs apt-get and dpkg-deb)")
    corpus.set_defaults(func=run_corpus)

    train = commands.add_parser("train", help="train an SAE on one decoder block's output with sae-lens")
    train.add_argument("--model", default="default", help="preset, HF id or local folder")
    train.add_argument("--layer", type=int, default=None, help="decoder block, 0-based (default: the preset's steering layer)")
    train.add_argument("--width", type=int, default=2048, help="number of latents (d_sae)")
    sparsity = train.add_mutually_exclusive_group()
    sparsity.add_argument("--k", type=int, default=None, help="TopK SAE with k active latents per token (default 64)")
    sparsity.add_argument("--l1", type=float, default=None, help="standard ReLU SAE with this L1 coefficient")
    train.add_argument("--tokens", type=int, default=1_000_000, help="training tokens")
    train.add_argument("--corpus", default="default", help="corpus folder or jsonl file ('default': <cache>/corpus/default)")
    train.add_argument("--out", required=True, help="output folder (cfg.json, sae_weights.safetensors, training.json)")
    train.add_argument("--lr", type=float, default=2e-3, help="learning rate")
    train.add_argument("--batch-tokens", type=int, default=1024, help="tokens per training step")
    train.add_argument("--context-size", type=int, default=128, help="tokens per packed row")
    train.add_argument("--dead-feature-window", type=int, default=150,
                       help="steps without firing after which a latent counts as dead (TopK auxiliary loss)")
    train.add_argument("--checkpoints", type=int, default=0,
                       help="intermediate checkpoints to save in OUT-checkpoints (removed when training finishes)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu", help="device for the model and the SAE")
    train.set_defaults(func=run_train)

    export = commands.add_parser("export", help="save an intermediate training checkpoint as an SAE folder")
    export.add_argument("checkpoint", help="checkpoint folder inside OUT-checkpoints (named by training tokens)")
    export.add_argument("--model", default="default", help="model the SAE was trained on")
    export.add_argument("--layer", type=int, required=True, help="decoder block the SAE reads")
    export.add_argument("--out", required=True, help="output folder")
    export.set_defaults(func=run_export)

    evaluate = commands.add_parser("eval", help="measure an SAE on held-out text")
    evaluate.add_argument("sae", help="SAE folder ('default': the SAE bundled for the default model)")
    evaluate.add_argument("--model", default="default", help="preset, HF id or local folder")
    evaluate.add_argument("--layer", type=int, default=None, help="decoder block (default: read from the SAE's cfg.json)")
    evaluate.add_argument("--text", required=True, help="jsonl file with a text field, or a corpus folder (uses heldout.jsonl)")
    evaluate.add_argument("--max-tokens", type=int, default=50_000, help="tokens to evaluate")
    evaluate.set_defaults(func=run_eval)


def default_corpus_dir() -> Path:
    from culturebench.model_cache import cache_dir

    return cache_dir() / "corpus" / "default"


def run_corpus(args) -> int:
    from culturebench.corpus import SAMPLES_NAME, build_corpus
    from culturebench.corpus_generate import SamplingSettings, generate_continuations, settings_record
    from culturebench.models import load_model

    out_dir = default_corpus_dir() if args.out == "default" else Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(args.model, device="cpu")
    settings = SamplingSettings()
    if args.sample_tokens > 0:
        generate_continuations(model, tokenizer, out_dir / SAMPLES_NAME, args.sample_tokens, settings)
    manifest = build_corpus(
        out_dir,
        debian_work_dir=None if args.no_debian else out_dir / "debian",
        max_chars_per_language=args.max_chars_per_language,
        heldout_fraction=args.heldout_fraction,
        tokenizer=tokenizer,
        sampling=settings_record(settings, args.model) if args.sample_tokens > 0 else None,
    )
    print(f"corpus: {out_dir}")
    for split in ("train", "heldout"):
        counts = manifest["counts"][split]
        print(f"{split}: {manifest['documents'][split]} documents, {counts['total_tokens']} tokens")
        for key, value in counts["tokens"].items():
            print(f"  {key}: {value}")
    return 0


def run_train(args) -> int:
    from culturebench.sae_training import SaeTrainingSettings, train_sae

    corpus = str(default_corpus_dir()) if args.corpus == "default" else args.corpus
    if args.corpus == "default" and not (default_corpus_dir() / "train.jsonl").is_file():
        raise CultureBenchError("the default corpus is not built yet; run `culturebench sae corpus` first, or pass --corpus PATH")
    settings = SaeTrainingSettings(
        model=args.model, layer=args.layer, width=args.width, k=args.k, l1=args.l1, tokens=args.tokens,
        corpus=corpus, context_size=args.context_size, batch_tokens=args.batch_tokens, lr=args.lr,
        dead_feature_window=args.dead_feature_window, checkpoints=args.checkpoints, device=args.device,
        seed=args.seed,
    )
    if settings.k is None and settings.l1 is None:
        settings.k = 64
    quality = train_sae(settings, Path(args.out))
    _print_quality(quality)
    print(f"saved: {args.out}")
    return 0


def run_export(args) -> int:
    from culturebench.sae_training import SaeTrainingSettings, export_checkpoint

    checkpoint = Path(args.checkpoint)
    if not (checkpoint / "activation_scaler.json").is_file():
        raise CultureBenchError(f"{checkpoint} is not a sae-lens training checkpoint (no activation_scaler.json)")
    runner_cfg = checkpoint / "runner_cfg.json"
    corpus = json.loads(runner_cfg.read_text(encoding="utf-8")).get("dataset_path", "") if runner_cfg.is_file() else ""
    settings = SaeTrainingSettings(model=args.model, layer=args.layer, corpus=str(Path(corpus).parent) if corpus else "")
    export_checkpoint(checkpoint, Path(args.out), settings, args.layer)
    print(f"saved: {args.out}")
    return 0


def run_eval(args) -> int:
    from transformers import AutoTokenizer

    from culturebench.models import default_sae_path, load_model, resolve_model_path
    from culturebench.sae_eval import evaluate_sae, load_sae
    from culturebench.sae_training import corpus_files, read_texts

    sae_dir = default_sae_path(args.model) if args.sae == "default" else Path(args.sae)
    if not (sae_dir / "cfg.json").is_file():
        raise CultureBenchError(f"SAE folder {sae_dir} has no cfg.json; pass a folder written by `culturebench sae train`")
    sae = load_sae(sae_dir)
    layer = args.layer
    if layer is None:
        from sae_lens.util import extract_layer_from_tlens_hook_name

        layer = extract_layer_from_tlens_hook_name(sae.cfg.metadata.hook_name or "")
        if layer is None:
            raise CultureBenchError(f"cannot read the layer from {sae_dir}/cfg.json; pass --layer")
    train_path, heldout_path = corpus_files(args.text)
    texts = read_texts(heldout_path or train_path)
    model, _ = load_model(args.model, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.model))
    quality = evaluate_sae(sae, model, tokenizer, texts, layer, max_tokens=args.max_tokens)
    _print_quality(quality.as_dict())
    return 0


def _print_quality(quality: dict) -> None:
    labels = {
        "l0": "L0",
        "fraction_variance_explained": "fraction of variance explained",
        "dead_fraction": "dead latents (fraction)",
        "tokens": "held-out tokens",
        "training_tokens_per_second": "training tokens/s",
        "training_seconds": "training seconds",
    }
    for key, label in labels.items():
        if key in quality:
            value = quality[key]
            print(f"{label}: {value:.4f}" if isinstance(value, float) else f"{label}: {value}")
    print(json.dumps(quality))
