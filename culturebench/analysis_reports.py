"""Compare a steered run with its unsteered baseline per task, and summarise multiplier sweeps.

A run folder is read in either layout lm-eval output takes here:

- lm-eval's `--output_path DIR --log_samples`: `results_<date>.json` with
  `samples_<task>_<date>.jsonl` beside it, anywhere below the folder (the newest results file
  that reports a task wins);
- one multiplier of `culturebench sweep --log-samples`: `results.json` with `samples_<task>.jsonl`.

Per task the score of a document is its `p_matching` when the samples carry one (behaviour
tasks), else its `acc`, unless a metric is named. The difference steered − baseline is taken
over the documents both runs scored, and its 95% CI is a percentile bootstrap over those
per-document differences (a paired bootstrap).
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturebench.errors import CultureBenchError
from culturebench.metrics import bootstrap_ci

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("p_matching", "acc")
KIND = "generalisation"
_DATED_RESULTS = re.compile(r"^results_(?P<date>.+)\.json$")
# Tasks whose documents are pooled into one more comparison when two or more of them were run.
POOLED_FAMILIES = ("mmlu_local",)


@dataclass
class TaskScores:
    """Per-document scores of one task in one run."""

    task: str
    metric: str
    scores: dict[int, float]
    results_file: Path


@dataclass
class RunScores:
    """Everything read from one run folder: task scores and the steering settings, if any."""

    folder: Path
    tasks: dict[str, TaskScores] = field(default_factory=dict)
    steering: dict[str, Any] = field(default_factory=dict)
    model_args: dict[str, str] = field(default_factory=dict)


def _results_files(folder: Path) -> list[tuple[Path, str]]:
    """Return `(results file, samples suffix)` pairs below `folder`, oldest first."""
    found = []
    for path in sorted(folder.rglob("results*.json")):
        match = _DATED_RESULTS.match(path.name)
        if match:
            found.append((path, f"_{match.group('date')}"))
        elif path.name == "results.json":
            found.append((path, ""))
    return sorted(found, key=lambda entry: (_date_of(entry[0]), str(entry[0])))


def _date_of(path: Path) -> float:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("date")
        return float(value) if value is not None else 0.0
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def _read_scores(path: Path, metric: str | None) -> tuple[str, dict[int, float]] | None:
    scores: dict[int, float] = {}
    chosen = metric
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise CultureBenchError(f"{path}:{number}: invalid JSON ({error.msg})") from error
            if chosen is None:
                chosen = next((name for name in DEFAULT_METRICS if name in record), None)
                if chosen is None:
                    return None
            value = record.get(chosen)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CultureBenchError(f"{path}:{number}: no numeric {chosen!r} in the sample")
            scores[int(record["doc_id"])] = float(value)
    return (chosen, scores) if chosen and scores else None


def read_run(folder: str | Path, *, metric: str | None = None) -> RunScores:
    """Read the per-document scores of every task logged below `folder`.

    Raises:
        CultureBenchError: when the folder contains no results file with samples.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CultureBenchError(f"run folder {folder} not found")
    run = RunScores(folder)
    for results_path, suffix in _results_files(folder):
        data = json.loads(results_path.read_text(encoding="utf-8"))
        for task in sorted(data.get("results") or {}):
            samples = results_path.with_name(f"samples_{task}{suffix}.jsonl")
            if not samples.is_file():
                continue
            read = _read_scores(samples, metric)
            if read is None:
                logger.info("%s: no %s per sample, skipped", samples, metric or " or ".join(DEFAULT_METRICS))
                continue
            run.tasks[task] = TaskScores(task, read[0], read[1], results_path)
        if isinstance(data.get("culturebench_steering"), dict):
            run.steering = data["culturebench_steering"]
        run.model_args = _model_args((data.get("config") or {}).get("model_args")) or run.model_args
    if not run.tasks:
        raise CultureBenchError(
            f"no lm-eval samples found below {folder}; run lm-eval with --log_samples (or culturebench sweep "
            "with --log-samples)"
        )
    return run


def _model_args(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(key): str(value) for key, value in raw.items()}
    if isinstance(raw, str):
        pairs = [part.split("=", 1) for part in raw.split(",") if "=" in part]
        return {key.strip(): value.strip() for key, value in pairs}
    return {}


def compare_task(task: str, baseline: dict, steered: dict, *, seed: int = 0) -> dict[str, Any] | None:
    """Compare per-document scores (keyed alike) of one task; None when no document is shared."""
    shared = sorted(set(baseline) & set(steered))
    if not shared:
        return None
    differences = [steered[key] - baseline[key] for key in shared]
    low, high = bootstrap_ci(differences, statistics.fmean, seed=seed)
    return {
        "task": task,
        "baseline": statistics.fmean(baseline[key] for key in shared),
        "steered": statistics.fmean(steered[key] for key in shared),
        "delta": statistics.fmean(differences),
        "ci": [low, high],
        "n": len(shared),
    }


def compare_runs(baseline: RunScores, steered: RunScores, *, method: str, seed: int = 0) -> list[dict[str, Any]]:
    """Compare every task both runs scored with the same metric; pooled family rows come last."""
    comparisons = []
    pooled: dict[str, tuple[dict, dict, str]] = {}
    for task in sorted(set(baseline.tasks) & set(steered.tasks)):
        before, after = baseline.tasks[task], steered.tasks[task]
        if before.metric != after.metric:
            logger.warning("%s: baseline scored %s but steered %s, skipped", task, before.metric, after.metric)
            continue
        row = compare_task(task, before.scores, after.scores, seed=seed)
        if row is None:
            logger.warning("%s: the two runs share no documents, skipped", task)
            continue
        comparisons.append({**row, "method": method, "metric": before.metric})
        family = next((name for name in POOLED_FAMILIES if task.startswith(f"{name}_")), None)
        if family is not None:
            joined = pooled.setdefault(family, ({}, {}, before.metric))
            joined[0].update({(task, doc): value for doc, value in before.scores.items()})
            joined[1].update({(task, doc): value for doc, value in after.scores.items()})
    for family, (before, after, metric) in sorted(pooled.items()):
        tasks = {key[0] for key in before}
        if len(tasks) < 2:
            continue
        row = compare_task(f"{family} (all {len(tasks)} tasks)", before, after, seed=seed)
        comparisons.append({**row, "method": method, "metric": metric})
    return comparisons


def generalisation_report(baseline: RunScores, steered: Sequence[tuple[RunScores, str]], *, seed: int = 0) -> dict:
    """Build the `generalisation` document: one comparison per task and steered run."""
    comparisons = []
    for run, method in steered:
        rows = compare_runs(baseline, run, method=method, seed=seed)
        multiplier = run.steering.get("multiplier", run.model_args.get("multiplier"))
        for row in rows:
            row["steered_run"] = str(run.folder)
            if multiplier is not None:
                row["multiplier"] = multiplier
        comparisons.extend(rows)
    if not comparisons:
        raise CultureBenchError(
            f"the baseline {baseline.folder} and the steered run(s) share no task scored with the same metric"
        )
    return {"kind": KIND, "baseline_run": str(baseline.folder), "comparisons": comparisons}


def correct_probabilities(path: str | Path, *, normalise: bool) -> dict[str | None, float]:
    """Return the mean probability of the correct option per variant, from a multiple-choice samples file.

    A document's option probabilities are the softmax of its option log-likelihoods, each divided by
    the option's length in characters when `normalise` is set (lm-eval's `acc_norm` rule). The key is
    the document's `variant` (None for documents without one). Documents whose responses are not
    log-likelihoods (generation tasks) are skipped, so the result may be empty.
    """
    import math

    values: dict[str | None, list[float]] = {}
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            scores = _option_scores(record, normalise)
            if scores is None:
                continue
            top = max(scores)
            weights = [math.exp(score - top) for score in scores]
            doc = record.get("doc") if isinstance(record.get("doc"), dict) else {}
            values.setdefault(doc.get("variant"), []).append(weights[int(record["target"])] / sum(weights))
    return {variant: statistics.fmean(probabilities) for variant, probabilities in values.items()}


def _option_scores(record: dict[str, Any], normalise: bool) -> list[float] | None:
    responses = record.get("filtered_resps")
    arguments = record.get("arguments")
    if not isinstance(responses, list) or not responses or not isinstance(record.get("target"), int):
        return None
    if not all(isinstance(item, list) and item and isinstance(item[0], (int, float)) for item in responses):
        return None
    scores = [float(item[0]) for item in responses]
    if not normalise:
        return scores
    # lm-eval writes the requests as a list of [context, continuation] or as {"gen_args_i": {"arg_1": ...}}.
    if isinstance(arguments, dict):
        arguments = [arguments[key] for key in sorted(arguments, key=lambda name: int(name.rsplit("_", 1)[-1]))]
        continuations = [str(item.get("arg_1", "")) for item in arguments]
    else:
        continuations = [str(item[1]) for item in arguments or []]
    if len(continuations) != len(scores):
        return None
    return [score / max(len(text.lstrip()), 1) for score, text in zip(scores, continuations)]


def sweep_summary(points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summarise each accuracy-vs-multiplier line: accuracy at λ = 0, the best and worst λ, the range.

    `points` are `multiplier_sweep` points (`method`, `multiplier`, `accuracy`, optional `variant`).
    `range_at_least_zero` gives the smallest and largest λ whose accuracy is at least the λ = 0
    accuracy, counting only the unbroken run of such λ around 0 (None without a λ = 0 point).
    """
    lines: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for point in points:
        key = (str(point["method"]), str(point.get("variant") or ""))
        lines.setdefault(key, []).append((float(point["multiplier"]), float(point["accuracy"])))
    summary = []
    for (method, variant), values in sorted(lines.items()):
        values.sort()
        at_zero = next((accuracy for multiplier, accuracy in values if multiplier == 0), None)
        best = max(values, key=lambda value: value[1])
        worst = min(values, key=lambda value: value[1])
        summary.append({
            "method": method,
            "variant": variant or None,
            "accuracy_at_zero": at_zero,
            "best": {"multiplier": best[0], "accuracy": best[1]},
            "worst": {"multiplier": worst[0], "accuracy": worst[1]},
            "range_at_least_zero": _range_at_least(values, at_zero),
        })
    return summary


def _range_at_least(values: list[tuple[float, float]], threshold: float | None) -> list[float] | None:
    if threshold is None:
        return None
    zero = next(index for index, (multiplier, _) in enumerate(values) if multiplier == 0)
    low = high = zero
    while low > 0 and values[low - 1][1] >= threshold:
        low -= 1
    while high < len(values) - 1 and values[high + 1][1] >= threshold:
        high += 1
    return [values[low][0], values[high][0]]
