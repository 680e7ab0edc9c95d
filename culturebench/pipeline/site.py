"""Stage 6b: the static leaderboard of this run, built into `site/` (open `site/index.html`).

The site reads only the evaluation folders of the current plan and the training logs of its
vectors, so outputs left in the run directory by an earlier, different configuration do not
appear in it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from culturebench.pipeline.state import replace_dir, staging_dir, unit_key
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

logger = logging.getLogger(__name__)

SITE_VERSION = 1
SITE_DIR = Path("site")


def run(context: StageContext, report: StageReport) -> None:
    plan = context.plan
    inputs = {
        "evals": {job.name: context.state.output_hashes(f"eval-{job.name}") for job in plan.evals},
        "judges": {job.name: context.state.output_hashes(f"judge-{job.name}") for job in plan.evals},
        "training": {job.name: context.state.output_hashes(f"vector-{job.name}") for job in plan.vectors
                     if job.trained},
        "alpha": plan.config.alpha,
        "title": site_title(context),
    }
    unit = Unit("site", unit_key("site", SITE_VERSION, inputs), [SITE_DIR], lambda: _build(context),
                description="leaderboard site")
    run_units(context, report, [unit])


def site_title(context: StageContext) -> str:
    plan = context.plan
    return f"culturebench run: {plan.model.model_id}, steering toward {plan.config.country}"


def _build(context: StageContext) -> dict:
    from culturebench.leaderboard import build_site

    plan = context.plan
    roots = [context.path(job.folder) for job in plan.evals]
    logs = [context.path(job.log_path) for job in plan.vectors if job.trained]
    if logs:
        # The leaderboard reads whole folders, so the current plan's logs are copied into one of their own.
        roots.append(_training_folder(context, logs))
    target = context.path(SITE_DIR)
    staged = staging_dir(target)
    summary = build_site(roots, staged, title=site_title(context), alpha=plan.config.alpha)
    for problem in summary.problems:
        logger.warning("leaderboard: %s", problem)
    replace_dir(staged, target)
    return {"runs": summary.runs, "files": len(summary.files), "problems": summary.problems}


def _training_folder(context: StageContext, logs: list[Path]) -> Path:
    """Return a scratch folder holding copies of the given training logs (and nothing else)."""
    import shutil

    folder = context.path(Path("state") / "site-training")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for log in logs:
        shutil.copyfile(log, folder / log.name)
    return folder
