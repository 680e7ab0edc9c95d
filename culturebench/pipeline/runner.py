"""Run the whole study: validate, then the six stages in order, each skipping unchanged work.

1. model: make sure the model is available offline (the HF-format copy of a GGUF preset is built once);
2. pairs: preference pairs with on-policy rejected answers (BiPO and YaPO only);
3. vectors: extract CAA and SAS, train BiPO and YaPO;
4. evaluate: the baseline and every steered model on the test split through lm-eval;
5. judge: open-ended answers, when a judge is configured;
6. report: `metrics.json` and the leaderboard site.

Weights load lazily (see `Resources`), so a run with nothing to recompute loads none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturebench.errors import CultureBenchError
from culturebench.pipeline import evaluation, judging, metrics, pairs, site, vectors
from culturebench.pipeline.config import RunConfig, render_config
from culturebench.pipeline.plan import Plan
from culturebench.pipeline.resources import Resources
from culturebench.pipeline.state import RunState, clean_staging, write_json_atomic, write_text_atomic
from culturebench.pipeline.units import StageContext, StageReport
from culturebench.pipeline.validate import build_plan

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
LAST_RUN = Path("state") / "last-run.json"
LOCK_NAME = Path("state") / ".run.lock"


@dataclass
class RunReport:
    """The outcome of a run: stage reports, the metrics document and the leaderboard's index page."""

    run_dir: Path
    stages: list[StageReport] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    index: Path | None = None
    seconds: float = 0.0
    weights_loaded: bool = False

    def stage(self, name: str) -> StageReport:
        return next(stage for stage in self.stages if stage.name == name)


def _model_stage(context: StageContext, report: StageReport) -> None:
    from culturebench.models import resolve_model_path

    plan = context.plan
    path = resolve_model_path(plan.config.model)
    report.note = f"model {plan.model.model_id} at {path}"
    if plan.sae is not None:
        report.note += f"; SAE {plan.sae.spec} (layer {plan.layer})"
    logger.info("model: %s (weights load when a stage first needs them)", report.note)


def _report_stage(context: StageContext, report: StageReport) -> None:
    metrics.run(context, report)
    site.run(context, report)


STAGES: tuple[tuple[str, Callable[[StageContext, StageReport], None]], ...] = (
    ("model", _model_stage),
    ("pairs", pairs.run),
    ("vectors", vectors.run),
    ("evaluate", evaluation.run),
    ("judge", judging.run),
    ("report", _report_stage),
)


def run_pipeline(config: RunConfig) -> RunReport:
    """Validate `config`, run every stage and return what happened.

    Raises:
        CultureBenchError: for an invalid configuration (before any compute), a run directory in use
            by another run, or a stage that cannot proceed.

    Example:
        >>> report = run_pipeline(load_config(quick=True))
        >>> print(report.index)
    """
    started = time.perf_counter()
    plan = build_plan(config)
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(plan.run_dir):
        clean_staging(plan.run_dir)
        write_text_atomic(plan.run_dir / CONFIG_NAME, render_config(config))
        context = StageContext(plan, RunState(plan.run_dir), Resources(plan))
        report = RunReport(run_dir=plan.run_dir)
        for number, (name, stage) in enumerate(STAGES, start=1):
            logger.info("stage %d/%d: %s", number, len(STAGES), name)
            stage_report = StageReport(name)
            stage_started = time.perf_counter()
            stage(context, stage_report)
            stage_report.seconds = time.perf_counter() - stage_started
            report.stages.append(stage_report)
        report.metrics = metrics.read_metrics(context)
        report.index = plan.run_dir / site.SITE_DIR / "index.html"
        report.weights_loaded = context.resources.loaded("model_and_tokenizer")
        report.seconds = time.perf_counter() - started
        _write_last_run(plan, report)
    return report


class _exclusive:
    """Hold a lock file in the run directory so two runs never write it at once."""

    def __init__(self, run_dir: Path) -> None:
        from filelock import FileLock

        (run_dir / LOCK_NAME).parent.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self.lock = FileLock(str(run_dir / LOCK_NAME))

    def __enter__(self):
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout as error:
            raise CultureBenchError(
                f"another culturebench run is using {self.run_dir}; wait for it or pass another --out"
            ) from error
        return self

    def __exit__(self, *exc_info) -> None:
        self.lock.release()


def _write_last_run(plan: Plan, report: RunReport) -> None:
    write_json_atomic(plan.run_dir / LAST_RUN, {
        "seconds": round(report.seconds, 2),
        "weights_loaded": report.weights_loaded,
        "stages": [
            {"name": stage.name, "status": stage.status, "seconds": round(stage.seconds, 2),
             "computed": stage.computed, "reused": stage.reused, "note": stage.note}
            for stage in report.stages
        ],
    })
