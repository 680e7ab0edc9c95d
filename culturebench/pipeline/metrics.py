"""Stage 6a: per-setting metrics from the evaluation samples, written to `metrics.json`.

For each evaluated setting the MCQ task's samples give, per item, its variant, the chosen option
and whether it is correct (`acc_norm` for log-likelihood tasks, `acc` for `\\boxed{k}` tasks).
From them: localized and non-localized accuracy, RCA and PNLG with bootstrap 95%
CIs (`culturebench.metrics.setting_summary`), each country's dominance bias on non-localized
items, the Western-option preference per variant, the extraction failure rate, the change from
the baseline and, when judged, the mean open-ended judge score.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from culturebench import metrics
from culturebench.errors import CultureBenchError
from culturebench.items import LANGUAGE_COUNTRIES, WESTERN
from culturebench.pipeline.evaluation import LM_EVAL_DIR
from culturebench.pipeline.judging import JUDGE_DIR, RESULTS_NAME
from culturebench.pipeline.plan import BASELINE, EvalJob
from culturebench.pipeline.state import unit_key, write_json_atomic
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

logger = logging.getLogger(__name__)

METRICS_VERSION = 1
METRICS_FILE = Path("metrics.json")
LOCALIZED, NONLOCALIZED = "localized", "nonlocalized"


def run(context: StageContext, report: StageReport) -> None:
    plan = context.plan
    inputs = {
        "evals": {job.name: context.state.output_hashes(f"eval-{job.name}") for job in plan.evals},
        "judges": {job.name: context.state.output_hashes(f"judge-{job.name}") for job in plan.evals},
        "alpha": plan.config.alpha,
        "seed": plan.config.seed,
    }
    unit = Unit("metrics", unit_key("metrics", METRICS_VERSION, inputs), [METRICS_FILE],
                lambda: _write(context), description="metrics.json")
    run_units(context, report, [unit])


def read_metrics(context: StageContext) -> dict[str, Any]:
    """Read the run's `metrics.json`."""
    return json.loads(context.path(METRICS_FILE).read_text(encoding="utf-8"))


def _write(context: StageContext) -> dict:
    plan = context.plan
    settings = {job.name: setting_metrics(context, job) for job in plan.evals}
    baseline = settings.get(BASELINE)
    if baseline is not None:
        for name, values in settings.items():
            if name != BASELINE:
                values["delta"] = {key: values[key] - baseline[key]
                                   for key in ("acc_localized", "acc_nonlocalized", "rca", "pnlg")}
    document = {
        "kind": "culturebench_run_metrics",
        "country": plan.config.country,
        "language": plan.language,
        "model": plan.model.model_id,
        "layer": plan.layer,
        "protocol": plan.protocol,
        "tasks": plan.tasks,
        "alpha": plan.config.alpha,
        "judge": plan.config.judge.spec,
        "settings": settings,
    }
    write_json_atomic(context.path(METRICS_FILE), document)
    return {"settings": len(settings)}


def setting_metrics(context: StageContext, job: EvalJob) -> dict[str, Any]:
    """Compute the metrics of one evaluated setting from its samples files."""
    plan = context.plan
    records = [record for task in plan.tasks for record in _samples(context.path(job.folder), task)]

    by_variant: dict[str, list[dict]] = {LOCALIZED: [], NONLOCALIZED: []}
    for record in records:
        by_variant.setdefault(record["variant"], []).append(record)
    localized = [float(record["correct"]) for record in by_variant[LOCALIZED]]
    nonlocalized = [float(record["correct"]) for record in by_variant[NONLOCALIZED]]
    if not localized or not nonlocalized:
        raise CultureBenchError(
            f"{job.name}: the samples hold {len(localized)} localized and {len(nonlocalized)} non-localized items; "
            "both are needed (raise eval.limit)"
        )

    values: dict[str, Any] = {
        "method": job.method,
        "setting": job.setting,
        "multiplier": job.multiplier,
        **metrics.setting_summary(localized, nonlocalized, alpha=plan.config.alpha, seed=plan.config.seed),
    }

    countries = LANGUAGE_COUNTRIES[plan.language]
    chosen = [record["chosen_country"] for record in by_variant[NONLOCALIZED]]
    values["dominance_bias"] = metrics.dominance_bias(chosen, countries)
    values["western_preference"] = {
        variant: metrics.western_preference([record["chosen_country"] == WESTERN for record in by_variant[variant]])
        for variant in (LOCALIZED, NONLOCALIZED)
    }
    values["extraction_failed"] = metrics.accuracy([record["extraction_failed"] for record in records])

    judge = _judge_scores(context.path(job.folder) / JUDGE_DIR / RESULTS_NAME)
    if judge is not None:
        values["judge"] = judge
    return values


def _samples(folder: Path, task: str) -> list[dict[str, Any]]:
    """Read the newest samples file of `task` under an evaluation folder into per-item records."""
    files = sorted((folder / LM_EVAL_DIR).glob(f"*/samples_{task}_*.jsonl"))
    if not files:
        raise CultureBenchError(f"no samples of task {task} in {folder}; rerun the evaluation stage")
    records = []
    with files[-1].open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            sample = json.loads(line)
            variant_record = sample.get("acc_loc")
            if not isinstance(variant_record, dict):
                raise CultureBenchError(f"{files[-1]}: samples lack the per-variant record of a `both` task")
            options = sample["doc"]["options"]
            pred = int(variant_record.get("pred", -1))
            records.append({
                "variant": variant_record["variant"],
                "correct": int(variant_record["correct"]),
                "chosen_country": options[pred].get("country") if 0 <= pred < len(options) else None,
                "extraction_failed": int(sample.get("extraction_failed", 0) or 0),
            })
    return records


def _judge_scores(path: Path) -> dict[str, Any] | None:
    """Return the mean judge score per variant (scores normalised to [0, 1]) and the failure count."""
    if not path.is_file():
        return None
    scores: dict[str, list[float]] = {LOCALIZED: [], NONLOCALIZED: []}
    failed = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            score = (record.get("scores") or {}).get("overall")
            if record.get("status") != "ok" or not isinstance(score, (int, float)) or math.isnan(score):
                failed += 1
                continue
            scores.setdefault(record.get("variant") or "unknown", []).append(float(score))
    result: dict[str, Any] = {f"mean_{variant}": metrics.accuracy(values) if values else None
                              for variant, values in scores.items()}
    result["scored"] = sum(len(values) for values in scores.values())
    result["failed"] = failed
    return result
