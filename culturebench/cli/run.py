"""`culturebench run`: the whole study on one configuration, from vectors to the leaderboard."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole study: pairs, CAA/SAS/BiPO/YaPO vectors, lm-eval evaluation, judge, leaderboard",
        description=(
            "Build steering vectors for one country, evaluate the unsteered and steered models on the test "
            "split through lm-eval, and write metrics and a static leaderboard into the run directory. "
            "Each stage is skipped when its inputs are unchanged, so an interrupted run resumes and a repeated "
            "run finishes quickly. Settings: the defaults (see --print-config), then --config, then --quick, "
            "then --set, then --out. Fields are documented in docs/run.md."
        ),
    )
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="YAML (.yaml, .yml) or TOML (.toml) file of settings")
    parser.add_argument("--quick", action="store_true",
                        help="a few items and training steps per stage (minutes; for CI), output in runs/quick")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set train.steps=50 --set methods=caa,yapo (repeatable)")
    parser.add_argument("--out", type=Path, default=None, metavar="RUN_DIR",
                        help="run directory (default runs/default, or runs/quick with --quick)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the settings after --config, --quick and --set as YAML with their "
                             "descriptions, then exit; null learning rate and multipliers are filled from the "
                             "model preset when a run starts (see `culturebench model info`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from culturebench.pipeline.config import load_config, render_config

    config = load_config(args.config, quick=args.quick, overrides=args.overrides, out=args.out)
    if args.print_config:
        print(render_config(config), end="")
        return 0

    from culturebench.pipeline.runner import run_pipeline
    from culturebench.pipeline.summary import format_report

    report = run_pipeline(config)
    print(format_report(report))
    return 0
