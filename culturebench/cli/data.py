"""`culturebench data`: statistics, validation and export of benchmark data."""

from __future__ import annotations

import json
import sys

from culturebench.loaders import EXPORT_FORMATS, check_export_target, export_items, load_items

STAT_COLUMNS = ("language", "country", "variant", "topic", "split")


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="inspect, validate and export benchmark data")
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    stats = commands.add_parser("stats", help="count items per language, country, variant, topic and split")
    stats.add_argument("--data", default=None, help="data source (default: the bundled benchmark)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.add_argument("--skip-invalid", action="store_true", help="drop invalid rows, reporting each")
    stats.set_defaults(func=run_stats)

    validate = commands.add_parser("validate", help="check a data source against the item schema")
    validate.add_argument("path", help="file, folder, 'bundled' or hf:OWNER/NAME")
    validate.set_defaults(func=run_validate)

    export = commands.add_parser("export", help="write items as jsonl, parquet or the Deep-Culture-Lense layout")
    export.add_argument("--data", default=None, help="data source (default: the bundled benchmark)")
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    export.add_argument("--out", required=True, help="output file (jsonl, parquet) or folder (deep-culture-lense)")
    export.set_defaults(func=run_export)


def statistics(dataset) -> dict:
    """Return item counts per value of each column in `STAT_COLUMNS`, plus totals."""
    import pandas as pd

    frame = pd.DataFrame([{column: getattr(item, column) for column in STAT_COLUMNS} for item in dataset])
    counts = {column: frame[column].value_counts().sort_index().to_dict() for column in STAT_COLUMNS} if len(frame) else {}
    return {
        "source": dataset.origin,
        "items": len(dataset),
        "languages": frame["language"].nunique() if len(frame) else 0,
        "countries": frame["country"].nunique() if len(frame) else 0,
        "topics": frame["topic"].nunique() if len(frame) else 0,
        "skipped": len(dataset.skipped),
        "counts": {column: {key: int(value) for key, value in values.items()} for column, values in counts.items()},
    }


def run_stats(args) -> int:
    dataset = load_items(args.data, skip_invalid=args.skip_invalid)
    summary = statistics(dataset)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=int))
        return 0

    import pandas as pd

    print(
        f"{summary['items']} items from {summary['source']}: {summary['languages']} languages, "
        f"{summary['countries']} countries, {summary['topics']} topics"
    )
    frame = pd.DataFrame([{column: getattr(item, column) for column in STAT_COLUMNS} for item in dataset])
    if len(frame):
        table = frame.pivot_table(index=["language", "country"], columns=["split", "variant"], aggfunc="size", fill_value=0)
        print(table.to_string())
    return 0


def run_validate(args) -> int:
    dataset = load_items(args.path)
    print(f"{args.path}: {len(dataset)} items, all valid")
    return 0


def run_export(args) -> int:
    check_export_target(args.out, args.format)
    dataset = load_items(args.data)
    path = export_items(dataset, args.out, args.format)
    print(f"wrote {len(dataset)} items to {path}", file=sys.stderr)
    return 0
