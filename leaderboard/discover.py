"""Find and classify the result files under the `--results` directories."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from culturebench.errors import CultureBenchError
from culturebench.leaderboard.analyses import (
    Analyses,
    SweepPoint,
    add_analysis,
    analysis_kind,
    is_sweep_results,
    load_json,
    looks_like_training_record,
    read_training_log,
    sweep_results_points,
)
from culturebench.leaderboard.judge_output import (
    looks_like_judge_record,
    looks_like_judge_summary,
    read_judge_records,
    summarise_summary,
)
from culturebench.leaderboard.lm_eval_output import is_results_file, read_results_file
from culturebench.leaderboard.provenance import find_vector, read_vector_metadata
from culturebench.leaderboard.runs import Run, RunSources, build_run, run_key

logger = logging.getLogger(__name__)

MANIFEST_NAME = "run.json"


@dataclass
class Inputs:
    """Everything read from the result directories: runs, plot data and problems worth showing."""

    roots: list[Path]
    runs: list[Run] = field(default_factory=list)
    analyses: Analyses = field(default_factory=Analyses)
    problems: list[str] = field(default_factory=list)


def collect_inputs(roots: list[Path], exclude: Path | None = None, metric: str | None = None) -> Inputs:
    """Read every recognised file under `roots` (searched recursively, in sorted order).

    Args:
        roots: the result directories.
        exclude: a directory to skip, such as the site being written.
        metric: the per-sample correctness key for runs whose `run.json` does not name one.

    Raises:
        CultureBenchError: a root is not a directory.
    """
    resolved_roots = []
    for root in roots:
        if not root.is_dir():
            raise CultureBenchError(f"results directory {root} not found; pass directories written by lm_eval "
                                    "or culturebench")
        if root.resolve() not in resolved_roots:
            resolved_roots.append(root.resolve())
    inputs = Inputs(roots=resolved_roots)
    files = _walk(resolved_roots, exclude.resolve() if exclude else None)

    manifests = {path.parent: (root, path) for root, path in files if path.name == MANIFEST_NAME}
    sources: dict[Path, RunSources] = {}
    for directory, (root, path) in sorted(manifests.items()):
        source = RunSources(directory=directory, root=root)
        try:
            manifest = load_json(path)
            if not isinstance(manifest, dict):
                raise ValueError("the top level is not an object")
            source.manifest = manifest
        except (OSError, ValueError) as error:
            source.manifest = {}
            source.manifest_problem = f"{path.name} unreadable: {error}"
            logger.warning("%s unreadable: %s", path, error)
        sources[directory] = source

    judge_files = []
    judge_summaries = []
    sweep_dirs: dict[Path, list[SweepPoint]] = {}
    for root, path in files:
        if path.name == MANIFEST_NAME:
            continue
        if is_results_file(path):
            _add_results(sources, manifests, root, path, metric)
        elif path.name.startswith("samples_") and path.suffix == ".jsonl":
            continue
        elif path.suffix == ".jsonl":
            kind, records = _peek_jsonl(path)
            if kind == "judge":
                judge_files.append(path)
            elif kind == "training":
                inputs.analyses.training_logs.append(read_training_log(path, records))
        elif path.suffix == ".json":
            _add_json(inputs, path, judge_summaries, sweep_dirs)

    # A sweep writes <output>/multiplier_<λ>/results.json: one plot per output folder.
    for directory, points in sorted(sweep_dirs.items()):
        inputs.analyses.sweeps.append((directory, points))

    # Judge files are attached last, when every run directory is known.
    for path in judge_files:
        _add_judge_file(inputs, sources, path)
    for path, summary in judge_summaries:
        run_dir = _nearest_run(sources, path.parent)
        if run_dir is None:
            inputs.problems.append(f"judge summary {path} belongs to no run directory")
        else:
            sources[run_dir].judge_summaries.append(summary)

    used_keys: set[str] = set()
    runs = [build_run(source, run_key(source, used_keys)) for _, source in sorted(sources.items())]
    inputs.runs = sorted(runs, key=Run.sort_key)
    return inputs


def _walk(roots: list[Path], exclude: Path | None) -> list[tuple[Path, Path]]:
    """Return (root, file) pairs, sorted, skipping hidden directories and `exclude`."""
    seen: set[Path] = set()
    found = []
    for root in roots:
        for directory, dirnames, filenames in os.walk(root):
            current = Path(directory)
            dirnames[:] = sorted(
                name for name in dirnames if not name.startswith(".") and (current / name).resolve() != exclude
            )
            for name in sorted(filenames):
                path = (current / name).resolve()
                if path not in seen and path.suffix in (".json", ".jsonl"):
                    seen.add(path)
                    found.append((root, path))
    return found


def _owner(directory: Path, root: Path, run_dirs: dict[Path, Any]) -> Path | None:
    """Return the nearest directory at or above `directory` (up to `root`) that is a run directory."""
    for candidate in (directory, *directory.parents):
        if candidate in run_dirs:
            return candidate
        if candidate == root:
            break
    return None


def _add_results(
    sources: dict[Path, RunSources], manifests: dict[Path, Any], root: Path, path: Path, metric: str | None
) -> None:
    directory = _owner(path.parent, root, manifests) or path.parent
    source = sources.setdefault(directory, RunSources(directory=directory, root=root))
    run_metric = metric
    if source.manifest and isinstance(source.manifest.get("metric"), str):
        run_metric = source.manifest["metric"]
    try:
        source.results.append(read_results_file(path, run_metric))
    except (OSError, ValueError) as error:
        source.results_problems.append(f"{path.name} unreadable: {error}")
        logger.warning("%s unreadable: %s", path, error)


def _peek_jsonl(path: Path) -> tuple[str | None, list[dict[str, Any]]]:
    """Classify a jsonl file by its first record; training logs are read whole."""
    first = None
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    logger.debug("%s: first line is not JSON, file ignored", path)
                    return None, []
                break
    if looks_like_judge_record(first):
        return "judge", []
    if not looks_like_training_record(first):
        logger.debug("%s: not a judge result or training log, ignored", path)
        return None, []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return "training", records


def _add_json(
    inputs: Inputs,
    path: Path,
    judge_summaries: list[tuple[Path, dict[str, Any]]],
    sweep_dirs: dict[Path, list[SweepPoint]],
) -> None:
    try:
        data = load_json(path)
    except (OSError, ValueError) as error:
        logger.debug("%s is not JSON (%s), ignored", path, error)
        return
    if is_sweep_results(data):
        vectors = data["culturebench_steering"].get("vectors") or []
        sweep_dirs.setdefault(path.parent.parent, []).extend(
            sweep_results_points(data, _vector_metadata(vectors[0] if vectors else None, path.parent))
        )
        return
    if looks_like_judge_summary(data):
        judge_summaries.append((path, summarise_summary(data)))
        return
    kind = analysis_kind(data)
    if kind is not None:
        add_analysis(inputs.analyses, path, data, kind)
    else:
        logger.debug("%s: not a file the leaderboard reads, ignored", path)


def _vector_metadata(reference: Any, directory: Path) -> dict[str, str]:
    """Return a sweep vector's header, or {} when the file cannot be found or read."""
    vector = find_vector(reference if isinstance(reference, str) else None, directory, None)
    if vector is None:
        return {}
    try:
        return read_vector_metadata(vector)
    except (OSError, SafetensorError) as error:
        logger.warning("%s unreadable: %s", vector, error)
        return {}


def _nearest_run(sources: dict[Path, RunSources], directory: Path) -> Path | None:
    """Return the run directory at or above `directory`, else the only run below it."""
    for candidate in (directory, *directory.parents):
        if candidate in sources:
            return candidate
    below = [path for path in sources if directory in path.parents]
    return below[0] if len(below) == 1 else None


def _add_judge_file(inputs: Inputs, sources: dict[Path, RunSources], path: Path) -> None:
    records, unreadable = read_judge_records(path)
    run_dir = _nearest_run(sources, path.parent)
    if run_dir is None:
        named = {_nearest_run(sources, r.samples_file.parent) for r in records if r.samples_file is not None}
        named.discard(None)
        run_dir = named.pop() if len(named) == 1 else None
    if run_dir is None:
        inputs.problems.append(f"judge results {path} ({len(records)} records) belong to no run directory")
        return
    sources[run_dir].judge_records.extend(records)
    if unreadable:
        sources[run_dir].results_problems.append(f"{path.name}: {unreadable} unreadable judge line(s) skipped")
