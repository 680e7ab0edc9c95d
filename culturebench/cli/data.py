"""`culturebench data`: statistics, validation and export of benchmark data."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="inspect, validate and export benchmark data")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
