"""The `culturebench` command line: one module per sub-command, each with a `register` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from culturebench import __version__
from culturebench.errors import CultureBenchError

# Each entry is a module in this package exposing `register(subparsers)`; the module adds its
# parser and sets `func`, which receives the parsed namespace and returns an exit code.
COMMANDS = (
    "data",
    "eval",
    "judge",
    "leaderboard",
    "extract",
    "vector",
    "sweep",
    "build_dataset",
    "patch",
    "report",
    "train",
    "model",
    "sae",
    "run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="culturebench",
        description="Measure and steer the cultural alignment of language models.",
    )
    parser.add_argument("--version", action="version", version=f"culturebench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"culturebench.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CultureBenchError as error:
        print(f"culturebench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Outputs are written atomically, so an interrupted command leaves no partial file behind.
        print(f"culturebench {args.command}: interrupted; finished outputs and checkpoints are kept, "
              "so running the same command again resumes where they allow", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
