"""Read training logs and analysis JSON (activation patching, multiplier sweeps, generalisation deltas)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from culturebench.leaderboard.fields import as_float, as_int, as_text
from culturebench.leaderboard.provenance import read_vector_metadata

logger = logging.getLogger(__name__)

ANALYSIS_KINDS = ("activation_patching", "multiplier_sweep", "generalisation")


@dataclass
class TrainingLog:
    """Loss curves from one training log; `train` and `eval` hold (step, loss) pairs sorted by step."""

    path: Path
    method: str | None
    country: str | None
    setting: str | None
    train: list[tuple[int, float]] = field(default_factory=list)
    eval: list[tuple[int, float]] = field(default_factory=list)

    @property
    def label(self) -> str:
        parts = [part for part in (self.method, self.country, self.setting) if part]
        return " ".join(parts) if parts else self.path.stem


@dataclass
class PatchingCurve:
    """Change in probability of the correct (and Western) option per patched layer, with CIs when given."""

    path: Path
    label: str
    layers: list[int]
    delta_correct: list[float | None]
    delta_western: list[float | None]
    correct_ci: list[tuple[float, float] | None] = field(default_factory=list)


@dataclass
class SweepPoint:
    method: str
    setting: str | None
    country: str | None
    variant: str | None
    multiplier: float
    accuracy: float


@dataclass
class Comparison:
    """A steered run against its baseline on one task (MMLU subject, behaviour set)."""

    task: str
    method: str
    metric: str | None
    baseline: float | None
    steered: float | None
    delta: float
    ci: tuple[float, float] | None


@dataclass
class Analyses:
    """Everything the plots read, in input order (files are visited sorted by path)."""

    training_logs: list[TrainingLog] = field(default_factory=list)
    patching: list[PatchingCurve] = field(default_factory=list)
    sweeps: list[tuple[Path, list[SweepPoint]]] = field(default_factory=list)
    comparisons: list[tuple[Path, list[Comparison]]] = field(default_factory=list)


def looks_like_training_record(record: Any) -> bool:
    return isinstance(record, dict) and "step" in record and ("loss" in record or "eval_loss" in record)


def analysis_kind(data: Any) -> str | None:
    """Return which analysis a JSON object holds, from its `kind` or, without one, from its keys."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if kind in ANALYSIS_KINDS:
        return kind
    if kind is not None:
        return None
    if "layers" in data and "delta_correct" in data or isinstance(data.get("curve"), list):
        return "activation_patching"
    if isinstance(data.get("points"), list):
        return "multiplier_sweep"
    if isinstance(data.get("comparisons"), list):
        return "generalisation"
    return None


def read_training_log(path: Path, records: list[dict[str, Any]]) -> TrainingLog:
    """Build the loss curves of a training log from its parsed jsonl records.

    The method, country and setting come from the records. Logs written before the records named
    them fall back to the header of the log's vector file, when it can be found.
    """
    first = {}
    for key in ("method", "country", "setting"):
        first[key] = next((as_text(r.get(key)) for r in records if as_text(r.get(key))), None)
    if not all(first.values()):
        header = _log_vector_header(path)
        for key in first:
            first[key] = first[key] or as_text(header.get(key))
    log = TrainingLog(path=path, method=first["method"], country=first["country"], setting=first["setting"])
    for record in records:
        step = as_int(record.get("step"))
        if step is None:
            continue
        loss = as_float(record.get("loss"))
        if loss is not None:
            target = log.eval if as_text(record.get("split")) == "eval" else log.train
            target.append((step, loss))
        eval_loss = as_float(record.get("eval_loss"))
        if eval_loss is not None:
            log.eval.append((step, eval_loss))
    log.train.sort()
    log.eval.sort()
    return log


def _log_vector_header(path: Path) -> dict[str, str]:
    """Return the header of the vector file a training log belongs to, or {} when none is found.

    `culturebench train` writes `NAME.log.jsonl` beside `NAME.safetensors`, and `culturebench run`
    writes `training/NAME.jsonl` beside `vectors/NAME.safetensors`.
    """
    candidates = []
    if path.name.endswith(".log.jsonl"):
        candidates.append(path.with_name(path.name.removesuffix(".log.jsonl") + ".safetensors"))
    if path.parent.name == "training":
        candidates.append(path.parent.parent / "vectors" / f"{path.stem}.safetensors")
    for candidate in candidates:
        if not candidate.is_file():
            continue
        try:
            return read_vector_metadata(candidate)
        except (OSError, SafetensorError) as error:
            logger.warning("vector file %s of training log %s unreadable: %s", candidate, path, error)
    return {}


def add_analysis(analyses: Analyses, path: Path, data: dict[str, Any], kind: str) -> None:
    """Parse one analysis JSON object of the given kind into `analyses`."""
    if kind == "activation_patching":
        analyses.patching.append(_patching(path, data))
    elif kind == "multiplier_sweep":
        analyses.sweeps.append((path, _sweep_points(data)))
    elif kind == "generalisation":
        analyses.comparisons.append((path, _comparisons(data)))


def _patching(path: Path, data: dict[str, Any]) -> PatchingCurve:
    if isinstance(data.get("curve"), list):
        points = [point for point in data["curve"] if isinstance(point, dict)]
        layers = [as_int(point.get("layer")) for point in points]
        correct = [as_float(point.get("delta_correct")) for point in points]
        western = [as_float(point.get("delta_western")) for point in points]
        intervals = [_interval(point.get("delta_correct_ci")) for point in points]
    else:
        layers = [as_int(layer) for layer in data.get("layers") or []]
        correct = _floats(data.get("delta_correct"), len(layers))
        western = _floats(data.get("delta_western"), len(layers))
        intervals = [None] * len(layers)
    valid = [point for point in zip(layers, correct, western, intervals) if point[0] is not None]
    valid.sort(key=lambda point: point[0])
    # A curve over all countries of a language group names the group instead of a country.
    parts = [as_text(data.get("model")), as_text(data.get("country")) or as_text(data.get("language"))]
    label = " ".join(part for part in parts if part) or path.stem
    return PatchingCurve(
        path=path,
        label=label,
        layers=[point[0] for point in valid],
        delta_correct=[point[1] for point in valid],
        delta_western=[point[2] for point in valid],
        correct_ci=[point[3] for point in valid],
    )


def _interval(raw: Any) -> tuple[float, float] | None:
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    low, high = as_float(raw[0]), as_float(raw[1])
    return (low, high) if low is not None and high is not None else None


def _floats(raw: Any, length: int) -> list[float | None]:
    values = [as_float(value) for value in raw] if isinstance(raw, list) else []
    return (values + [None] * length)[:length]


def _sweep_points(data: dict[str, Any]) -> list[SweepPoint]:
    points = []
    for raw in data.get("points") or []:
        if not isinstance(raw, dict):
            continue
        multiplier = as_float(raw.get("multiplier"))
        accuracy = as_float(raw.get("accuracy"))
        if multiplier is None or accuracy is None:
            continue
        points.append(
            SweepPoint(
                method=as_text(raw.get("method")) or as_text(data.get("method")) or "unknown",
                setting=as_text(raw.get("setting")) or as_text(data.get("setting")),
                country=as_text(raw.get("country")) or as_text(data.get("country")),
                variant=as_text(raw.get("variant")),
                multiplier=multiplier,
                accuracy=accuracy,
            )
        )
    return points


def _comparisons(data: dict[str, Any]) -> list[Comparison]:
    comparisons = []
    for raw in data.get("comparisons") or []:
        if not isinstance(raw, dict):
            continue
        baseline = as_float(raw.get("baseline"))
        steered = as_float(raw.get("steered"))
        delta = as_float(raw.get("delta"))
        if delta is None and baseline is not None and steered is not None:
            delta = steered - baseline
        if delta is None:
            continue
        bounds = _interval(raw.get("ci"))
        comparisons.append(
            Comparison(
                task=as_text(raw.get("task")) or "unknown",
                method=as_text(raw.get("method")) or as_text(data.get("method")) or "unknown",
                metric=as_text(raw.get("metric")),
                baseline=baseline,
                steered=steered,
                delta=delta,
                ci=bounds,
            )
        )
    return comparisons


def is_sweep_results(data: Any) -> bool:
    """Return True for a `culturebench sweep` results file: lm-eval results plus `culturebench_steering`."""
    return isinstance(data, dict) and isinstance(data.get("results"), dict) and isinstance(
        data.get("culturebench_steering"), dict
    )


def sweep_results_points(data: dict[str, Any], vector_metadata: dict[str, str]) -> list[SweepPoint]:
    """Turn one multiplier's results into sweep points, one per task and variant.

    A `both` task gives a localized and a non-localized point (`acc_loc`, `acc_nonloc`); any other
    task gives one point from `acc_norm` for log-likelihood tasks, else `acc`. The method, setting and
    country come from the first vector's header.
    """
    steering = data["culturebench_steering"]
    multiplier = as_float(steering.get("multiplier"))
    if multiplier is None:
        return []
    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    points = []
    for task, values in sorted(data["results"].items()):
        if task not in configs or not isinstance(values, dict):
            continue
        metrics = {key.split(",", 1)[0]: as_float(value) for key, value in values.items()}
        if metrics.get("acc_loc") is not None or metrics.get("acc_nonloc") is not None:
            readings = [("localized", metrics.get("acc_loc")), ("nonlocalized", metrics.get("acc_nonloc"))]
        else:
            log_likelihood = configs[task].get("output_type") == "multiple_choice"
            preferred = metrics.get("acc_norm") if log_likelihood else None
            readings = [(None, preferred if preferred is not None else metrics.get("acc"))]
        for variant, accuracy in readings:
            if accuracy is None:
                continue
            points.append(
                SweepPoint(
                    method=vector_metadata.get("method") or "unknown",
                    setting=vector_metadata.get("setting"),
                    country=vector_metadata.get("country"),
                    variant=" ".join(part for part in (task, variant) if part),
                    multiplier=multiplier,
                    accuracy=accuracy,
                )
            )
    return points


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
