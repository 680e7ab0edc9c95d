"""Run a stage's units in order, skipping those whose content hash is unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from culturebench.pipeline.plan import Plan
from culturebench.pipeline.resources import Resources
from culturebench.pipeline.state import RunState

logger = logging.getLogger(__name__)


@dataclass
class Unit:
    """One piece of work: a state name, its content-hash key, its outputs and the function computing them.

    `compute` must write every output atomically and return extra facts for the state record
    (or None). Outputs are paths relative to the run directory; a folder counts as all its files.
    """

    name: str
    key: str
    outputs: Sequence[Path]
    compute: Callable[[], dict[str, Any] | None]
    description: str = ""


@dataclass
class StageReport:
    """The outcome of one stage: the units it computed and reused, its wall time and any note."""

    name: str
    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    skipped: bool = False

    def skip(self, reason: str) -> None:
        """Mark the stage as skipped for `reason` (shown in the summary)."""
        self.skipped = True
        self.note = reason

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if self.computed:
            return "computed"
        return "reused" if self.reused else "done"


@dataclass
class StageContext:
    """The plan, state records and shared resources of the running pipeline."""

    plan: Plan
    state: RunState
    resources: Resources

    @property
    def run_dir(self) -> Path:
        return self.plan.run_dir

    def path(self, relative: Path | str) -> Path:
        return self.plan.run_dir / relative


def run_units(context: StageContext, report: StageReport, units: Sequence[Unit]) -> None:
    """Compute each unit whose key or outputs changed, with a progress bar over the units to compute."""
    pending = []
    for unit in units:
        if context.state.is_current(unit.name, unit.key):
            report.reused.append(unit.name)
        else:
            pending.append(unit)
    logger.info("%s: %d unit(s), %d up to date, %d to compute", report.name, len(units), len(report.reused),
                len(pending))
    if not pending:
        return
    progress = tqdm(pending, desc=report.name, unit="unit", disable=None)
    for unit in progress:
        progress.set_postfix_str(unit.description or unit.name)
        logger.info("%s: computing %s", report.name, unit.description or unit.name)
        started = time.perf_counter()
        info = unit.compute() or {}
        seconds = time.perf_counter() - started
        context.state.record(unit.name, unit.key, [context.path(output) for output in unit.outputs], seconds, info)
        report.computed.append(unit.name)
        logger.info("%s: %s done in %.1f s", report.name, unit.description or unit.name, seconds)
    progress.close()
