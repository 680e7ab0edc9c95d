"""`culturebench patch`: per-layer activation patching curve from localized to non-localized prompts."""

from __future__ import annotations

import logging
import random
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.items import COUNTRY_LANGUAGE, LANGUAGE_COUNTRIES

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "patch",
        help="find the layers that carry the country: patch localized states into non-localized prompts",
        description=(
            "For each decoder block, write the localized prompt's last-token state over the non-localized "
            "prompt's and measure the change in probability of the correct option and of the Western "
            "option (options scored as cloze continuations). Writes a JSON curve and an SVG plot."
        ),
    )
    parser.add_argument("--country", default=None, help="country id whose item pairs are patched (e.g. morocco)")
    parser.add_argument("--language", default=None,
                        help="language group; without --country, pairs of every country of the group are used "
                             "(without both, pairs of every language)")
    parser.add_argument("--model", default="default", help="preset name, Hugging Face id or local folder (default: default)")
    parser.add_argument("--data", default=None, help="item source (default: the bundled benchmark)")
    parser.add_argument("--split", default="train", choices=("train", "test", "all"),
                        help="item split to draw pairs from (default train, so layer choice never sees test items)")
    parser.add_argument("--n", type=int, default=16, help="item pairs to average over (default 16; fewer if the data has fewer)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair sample and the bootstrap (default 0)")
    parser.add_argument("--layers", default=None, help="comma-separated layers to patch (default: every decoder block)")
    parser.add_argument("--no-normalise", action="store_true",
                        help="score options by summed log-likelihood instead of dividing by their length in characters")
    parser.add_argument("--apply-chat-template", action="store_true",
                        help="wrap prompts in the tokenizer's chat template (as lm-eval's --apply_chat_template)")
    parser.add_argument("--dtype", default="float32", help="model dtype (default float32)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available, else CPU)")
    parser.add_argument("--out", required=True, type=Path, help="output JSON file")
    parser.add_argument("--plot", type=Path, default=None, help="output SVG file (default: --out with .svg)")
    parser.set_defaults(func=run)


def select_scope(country: str | None, language: str | None) -> tuple[str | None, str | None]:
    """Check `--country` and `--language` and return them, the language filled in from the country."""
    if country is not None and country not in COUNTRY_LANGUAGE:
        raise CultureBenchError(f"unknown country {country!r}; known: {', '.join(sorted(COUNTRY_LANGUAGE))}")
    if language is not None and language not in LANGUAGE_COUNTRIES:
        raise CultureBenchError(f"unknown language {language!r}; known: {', '.join(LANGUAGE_COUNTRIES)}")
    if country is not None and language is not None and COUNTRY_LANGUAGE[country] != language:
        raise CultureBenchError(f"country {country!r} belongs to {COUNTRY_LANGUAGE[country]!r}, not {language!r}")
    return country, language or (COUNTRY_LANGUAGE[country] if country else None)


def parse_layers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise CultureBenchError(f"invalid --layers {text!r}: use integers joined by commas") from error
    if not layers:
        raise CultureBenchError("--layers is empty; give at least one layer")
    return layers


def sample_pairs(pairs: list, n: int, seed: int) -> list:
    """Return `n` pairs drawn with `seed` (all of them when there are fewer), in `pair_id` order."""
    if n < 1:
        raise CultureBenchError(f"invalid --n {n}: need at least 1 pair")
    if len(pairs) <= n:
        return list(pairs)
    chosen = random.Random(seed).sample(range(len(pairs)), n)
    return [pairs[index] for index in sorted(chosen)]


def run(args) -> int:
    from culturebench.atomic_files import write_json_atomic
    from culturebench.leaderboard.analysis_svg import write_analysis_svg
    from culturebench.loaders import load_items
    from culturebench.models import load_model
    from culturebench.steering.identity import canonical_model_id
    from culturebench.steering.patching import paired_items, patch_layers

    country, language = select_scope(args.country, args.language)
    layers = parse_layers(args.layers)
    dataset = load_items(args.data)
    items = [item for item in dataset if args.split == "all" or item.split == args.split]
    available = paired_items(items, country=country, language=language)
    if not available:
        raise CultureBenchError(
            f"no localized/non-localized pairs for country={country!r}, language={language!r} in the "
            f"{args.split!r} split of {dataset.origin}; try --split all or another --data"
        )
    pairs = sample_pairs(available, args.n, args.seed)
    logger.info("patching %d of %d pairs (%s, %s split)", len(pairs), len(available),
                country or language or "all languages", args.split)

    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    if args.apply_chat_template and not getattr(tokenizer, "chat_template", None):
        raise CultureBenchError(f"model {args.model!r} has no chat template; drop --apply-chat-template")
    result = patch_layers(
        model, tokenizer, pairs, layers=layers, normalise=not args.no_normalise, chat=args.apply_chat_template,
        model_id=canonical_model_id(args.model), seed=args.seed,
    )
    result.settings = {"data": dataset.origin, "split": args.split, "seed": args.seed, "dtype": args.dtype,
                       "available_pairs": len(available)}
    data = result.to_dict()
    write_json_atomic(args.out, data)
    plot = write_analysis_svg(data, args.plot or args.out.with_suffix(".svg"))

    best = next(effect for effect in result.curve if effect.layer == result.best_layer)
    print(f"best layer {best.layer}: Δ P(correct) {best.delta_correct:+.4f} "
          f"(95% CI {best.delta_correct_ci[0]:+.4f} to {best.delta_correct_ci[1]:+.4f}) over {len(pairs)} pairs")
    print(f"wrote {args.out}" + (f" and {plot}" if plot else ""))
    return 0
