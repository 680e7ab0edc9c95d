"""`culturebench build-dataset`: grow the benchmark from a seeds file with an LLM generator."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build-dataset",
        help="build benchmark items from seed scenarios with LLM country experts",
        description=(
            "Run the dataset builder's seven stages (seeds, country experts, existence filter, MCQ packaging, "
            "near-duplicate removal, question variants, splits and statistics). Each stage's output is kept in "
            "OUT/stages and reused when its inputs are unchanged, and replies are cached, so rerunning a killed "
            "build resumes it. API keys come only from the environment: OPENAI_API_KEY, GEMINI_API_KEY or "
            "GOOGLE_API_KEY, OPENAI_COMPATIBLE_API_KEY."
        ),
    )
    parser.add_argument("--seeds", required=True, type=Path, help="the seeds file (YAML; see docs/dataset_builder.md)")
    parser.add_argument("--generator", required=True, metavar="SPEC",
                        help="openai:MODEL, gemini:MODEL, openai-compatible:URL:MODEL or hf:PATH")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder: one <language>.yaml seed file per language, stats and stage outputs")

    parser.add_argument("--paraphrases", type=_non_negative_int, default=2,
                        help="paraphrases requested per question form (default 2)")
    parser.add_argument("--test-fraction", type=float, default=0.4,
                        help="expected share of seed questions in the test split, from 0 to 1 (default 0.4)")
    parser.add_argument("--seed", type=int, default=0, help="fixed seed of the option shuffle and the split (default 0)")

    parser.add_argument("--min-countries", type=_positive_int, default=2,
                        help="minimum number of countries an MCQ needs, besides the Western control (default 2)")
    parser.add_argument("--max-length-ratio", type=float, default=2.5,
                        help="largest allowed ratio of the longest to the shortest option in characters (default 2.5)")
    parser.add_argument("--option-similarity", type=float, default=92.0,
                        help="rapidfuzz score (0-100) from which two options of one question are duplicates (default 92)")
    parser.add_argument("--question-similarity", type=float, default=90.0,
                        help="rapidfuzz score (0-100) from which two seed questions are duplicates (default 90)")
    parser.add_argument("--embedding-model", type=Path, default=None,
                        help="local model folder for an extra embedding-similarity dedup pass (default: no pass)")
    parser.add_argument("--embedding-similarity", type=float, default=0.92,
                        help="cosine similarity from which two texts are duplicates in the embedding pass (default 0.92)")

    parser.add_argument("--concurrency", type=_positive_int, default=8,
                        help="maximum number of requests in flight at once (default 8)")
    parser.add_argument("--max-retries", type=_non_negative_int, default=4,
                        help="retries per request after 429, 5xx, timeouts (default 4)")
    parser.add_argument("--retry-budget", type=_non_negative_int, default=None,
                        help="retries shared by one stage's requests (default: a fifth of them, at least 20)")
    parser.add_argument("--max-tokens", type=_positive_int, default=1024,
                        help="output token limit per request, reasoning included (default 1024)")
    parser.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request before retrying (default 60)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="reply cache folder (default: $CULTUREBENCH_CACHE/builder, else builder/ in the user cache folder)")
    parser.add_argument("--no-cache", action="store_true",
                        help="send every request and cache nothing (a killed build then starts its stage over)")

    parser.add_argument("--force", action="store_true",
                        help="run every stage again even when its stored output matches (cached replies are reused)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from culturebench.builder import BuildConfig, DedupSettings, GeneratorConfig, PackagingSettings, build_dataset
    from culturebench.errors import CultureBenchError
    from culturebench.judges import GenerationSettings

    if args.timeout <= 0:
        raise CultureBenchError(f"--timeout must be positive, got {args.timeout}")
    config = BuildConfig(
        seeds=args.seeds,
        generator=args.generator,
        out=args.out,
        generation=GeneratorConfig(
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            retry_budget=args.retry_budget,
            settings=GenerationSettings(max_tokens=args.max_tokens, temperature=args.temperature, timeout_s=args.timeout),
            cache_dir=args.cache_dir,
            use_cache=not args.no_cache,
            progress=not args.no_progress,
        ),
        packaging=PackagingSettings(min_countries=args.min_countries, max_length_ratio=args.max_length_ratio),
        dedup=DedupSettings(
            option_similarity=args.option_similarity,
            question_similarity=args.question_similarity,
            embedding_model=args.embedding_model,
            embedding_similarity=args.embedding_similarity,
        ),
        paraphrases=args.paraphrases,
        test_fraction=args.test_fraction,
        seed=args.seed,
        force=args.force,
    )
    result = build_dataset(config)
    print(result.markdown)
    logger.info("load it with --data %s", result.out)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
