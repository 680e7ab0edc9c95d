"""`culturebench judge`: score open-ended answers in lm-eval samples with an LLM judge."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="score generated answers in lm-eval samples files against their gold answers with an LLM judge",
        description=(
            "Score the generated answers in lm-eval samples files (open-ended culture_*_oe tasks, run with "
            "--log_samples) against each item's gold answer with an LLM judge. Writes one JSON line per answer "
            "to --out and a summary beside it, prints the summary, and exits 2 when the judge scored no answer. "
            "API keys come only from the environment: OPENAI_API_KEY for openai, GEMINI_API_KEY or "
            "GOOGLE_API_KEY for gemini, and OPENAI_COMPATIBLE_API_KEY for openai-compatible (optional). "
            "hf needs no key."
        ),
    )
    parser.add_argument("--samples", required=True, type=Path, metavar="PATH",
                        help="an lm-eval samples_<task>_<date>.jsonl file of a generation task, or a folder searched "
                             "recursively for samples_*_oe_*.jsonl (the newest file per model folder and task)")
    parser.add_argument("--judge", required=True, metavar="SPEC",
                        help="openai:MODEL, gemini:MODEL, openai-compatible:URL:MODEL or hf:PATH")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="results file, one JSON line per answer; the summary goes beside it as FILE without "
                             "its .jsonl suffix plus .summary.json (judge.jsonl: judge.summary.json)")
    parser.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                        help="maximum number of requests in flight at once (default 8)")
    parser.add_argument("--max-retries", type=_non_negative_int, default=4, metavar="N",
                        help="retries per request after a 429, 5xx, timeout or connection error (default 4)")
    parser.add_argument("--retry-budget", type=_non_negative_int, default=None, metavar="N",
                        help="retries shared by the whole run; once spent, a failing request fails at once "
                             "(default: a fifth of the items, at least 20)")
    parser.add_argument("--max-tokens", type=_positive_int, default=1024, metavar="N",
                        help="output token limit per request, reasoning included (default 1024)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="seconds to wait for each request before it counts as timed out, which is retried "
                             "like a 5xx (default 60)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="reply cache folder (default: $CULTUREBENCH_CACHE/judges, else judges/ in the user cache folder)")
    parser.add_argument("--no-cache", action="store_true", help="send every request and cache nothing")
    parser.add_argument("--price-input", type=float, default=None, metavar="USD",
                        help="USD per million input tokens for the cost estimate in the summary; give both prices "
                             "or neither (default: the built-in price table, no estimate for unknown models)")
    parser.add_argument("--price-output", type=float, default=None, metavar="USD",
                        help="USD per million output tokens for the cost estimate in the summary")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from culturebench.atomic_files import check_output_file
    from culturebench.errors import CultureBenchError
    from culturebench.judges import (
        GenerationSettings,
        Prices,
        RunConfig,
        judge_samples,
        parse_spec,
        read_samples,
        summary_path,
        write_results,
    )

    # Checked before any request is sent, so a bad --out does not waste the judge calls.
    check_output_file(args.out)
    check_output_file(summary_path(args.out), "summary file of --out")
    spec = parse_spec(args.judge)
    if (args.price_input is None) != (args.price_output is None):
        raise CultureBenchError("give both --price-input and --price-output, or neither")
    if args.timeout <= 0:
        raise CultureBenchError(f"--timeout must be positive, got {args.timeout}")
    prices = Prices(args.price_input, args.price_output) if args.price_input is not None else None

    samples = read_samples(args.samples)
    if not samples:
        raise CultureBenchError(f"no samples found in {str(args.samples)!r}")
    config = RunConfig(
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        retry_budget=args.retry_budget,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        settings=GenerationSettings(max_tokens=args.max_tokens, timeout_s=args.timeout),
        prices=prices,
        progress=not args.no_progress,
    )
    result = judge_samples(samples, spec, config)
    summary_file = write_results(result, args.out)
    logger.info("wrote %s and %s", args.out, summary_file)
    print(json.dumps(result.summary, ensure_ascii=False, indent=2))

    counts = result.summary["counts"]
    if counts["scored"] == 0:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in result.summary["failures"].items())
        raise CultureBenchError(f"the judge scored none of {counts['items']} items ({reasons}); see {args.out}")
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
