"""Stage 7, second half: write the dataset's seed files, validate them and count the items.

The dataset is one `<language>.yaml` seed file per language group at the top of the output
folder, so `load_items(OUT)` (and every `--data OUT`) reads it, and nothing else there ends in
`.yaml` or `.yml`. The statistics table counts items per language, country, topic, variant and
split, as loaded back from those files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from culturebench.builder.seeds import SeedPlan
from culturebench.builder.stages import write_atomic
from culturebench.errors import CultureBenchError
from culturebench.items import Dataset
from culturebench.loaders import load_items

logger = logging.getLogger(__name__)

MANIFEST = "build.json"
STAT_COLUMNS = ("language", "country", "topic", "variant", "split")
# The first line of every seed file the builder writes; it marks files a rebuild may replace.
MARKER = "# Written by culturebench build-dataset."


def check_output_folder(out: Path) -> list[Path]:
    """Return the seed files an earlier build wrote to `out`; raise when other YAML files are there.

    The loader reads every top-level YAML file of a folder as seeds, so a foreign one would be
    mixed into the dataset.
    """
    ours, foreign = [], []
    for path in _yaml_files(out):
        with path.open(encoding="utf-8", errors="replace") as handle:
            (ours if handle.readline().rstrip("\n") == MARKER else foreign).append(path)
    if foreign:
        names = ", ".join(path.name for path in foreign)
        raise CultureBenchError(
            f"output folder {str(out)!r} contains YAML files this builder did not write ({names}); "
            "`--data` would read them as part of the dataset. Choose an empty or new --out folder"
        )
    return ours


def write_seed_files(plan: SeedPlan, entries: list[dict[str, Any]], out: Path, header: str) -> list[Path]:
    """Write one seed file per language that has entries, remove stale ones, and return the paths.

    `header` is comment text placed under the marker line.
    """
    by_language: dict[str, list[dict[str, Any]]] = {}
    for record in entries:
        by_language.setdefault(record["language"], []).append(record["entry"])

    written: list[Path] = []
    for language, seeds in by_language.items():
        document = {"language": language, "countries": list(plan.groups[language]), "source": plan.source, "seeds": seeds}
        text = MARKER + "\n" + header + yaml.safe_dump(
            document, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=None
        )
        path = out / f"{language}.yaml"
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    for stale in set(check_output_folder(out)) - set(written):
        logger.info("removing %s, written by an earlier build for a language this build does not cover", stale)
        stale.unlink(missing_ok=True)
    return written


def validate_output(out: Path) -> Dataset:
    """Load the written dataset exactly as `--data OUT` does; a failure here is a builder bug."""
    return load_items(out)


def statistics_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """Return item counts per (language, country, topic, variant, split), sorted."""
    counts = Counter(tuple(getattr(item, column) for column in STAT_COLUMNS) for item in dataset)
    return [{**dict(zip(STAT_COLUMNS, key)), "items": count} for key, count in sorted(counts.items())]


def write_statistics(rows: list[dict[str, Any]], stages: list[dict[str, Any]], out: Path) -> str:
    """Write `stats.csv` and `stats.md`; return the markdown text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*STAT_COLUMNS, "items"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "stats.csv", buffer.getvalue().encode("utf-8"))
    markdown = render_markdown(rows, stages)
    write_atomic(out / "stats.md", markdown.encode("utf-8"))
    return markdown


def render_markdown(rows: list[dict[str, Any]], stages: list[dict[str, Any]]) -> str:
    """Return the statistics as markdown: items per language and country, per topic, and per stage."""
    lines = [f"# Dataset statistics\n\n{sum(row['items'] for row in rows)} items.\n"]
    lines.append(_table(rows, ("language", "country"), "Items per language and country"))
    lines.append(_table(rows, ("language", "topic"), "Items per language and topic"))
    stage_rows = [
        ("stage", "kept", "dropped", "dropped by reason"),
        *(
            (f"{stage['number']} {stage['stage']}", str(stage["kept"]), str(stage["dropped"]),
             ", ".join(f"{reason} {count}" for reason, count in stage["dropped_by_reason"].items()) or "-")
            for stage in stages
        ),
    ]
    lines.append("## Stages\n\n" + _markdown(stage_rows))
    return "\n".join(lines)


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    write_atomic(out / MANIFEST, (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def _table(rows: list[dict[str, Any]], keys: tuple[str, str], title: str) -> str:
    """Return a markdown table of `keys` by variant and split."""
    columns = [(variant, split) for variant in ("localized", "nonlocalized") for split in ("train", "test")]
    counts: dict[tuple[str, str], Counter] = {}
    for row in rows:
        counts.setdefault((row[keys[0]], row[keys[1]]), Counter())[(row["variant"], row["split"])] += row["items"]
    header = (*keys, *(f"{variant} {split}" for variant, split in columns), "total")
    body = [
        (*group, *(str(counter[column]) for column in columns), str(sum(counter.values())))
        for group, counter in counts.items()
    ]
    return f"## {title}\n\n" + _markdown([header, *body])


def _markdown(rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def _yaml_files(out: Path) -> list[Path]:
    if not out.is_dir():
        return []
    return sorted(path for path in out.iterdir() if path.suffix in (".yaml", ".yml") and path.is_file())
