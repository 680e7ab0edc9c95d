"""`culturebench leaderboard`: build the static HTML leaderboard from result directories."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="build a static HTML leaderboard from lm-eval, judge, training and analysis outputs",
        description="Search each results directory recursively and write a static site that opens "
        "from disk or any static host. The accepted files are described in docs/leaderboard.md.",
    )
    parser.add_argument("--results", required=True, nargs="+", type=Path, metavar="DIR",
                        help="directories holding lm-eval output, run.json, judge results, training logs "
                        "or analysis JSON")
    parser.add_argument("--out", required=True, type=Path, metavar="SITE_DIR",
                        help="site directory: new, empty, or an earlier leaderboard build to replace")
    parser.add_argument("--title", default="culturebench leaderboard", help="site title")
    parser.add_argument("--max-examples", type=int, default=20, metavar="N",
                        help="answers shown per task on each run page (default: 20)")
    parser.add_argument("--alpha", type=float, default=1.0,
                        help="PNLG exponent: |A_l - A_n| / mean^alpha (default: 1.0)")
    parser.add_argument("--metric", default=None,
                        help="per-sample key holding correctness (default: acc, then exact_match); "
                        "a run.json `metric` overrides it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that other sub-commands do not pay for matplotlib at start-up.
    from culturebench.leaderboard import build_site

    summary = build_site(
        args.results,
        args.out,
        title=args.title,
        max_examples=args.max_examples,
        alpha=args.alpha,
        metric=args.metric,
    )
    print(f"{summary.runs} run(s), {len(summary.files)} files: {summary.index}")
    for problem in summary.problems:
        print(f"warning: {problem}")
    return 0
