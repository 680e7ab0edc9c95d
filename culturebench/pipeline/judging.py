"""Stage 5: score the open-ended answers of every evaluated setting with the configured LLM judge.

Without `judge.spec` the stage does nothing and logs why. With it, the evaluation stage also ran
the `_oe` task, and each setting gets `evals/<name>/judge/judge.jsonl` plus its summary, which
the leaderboard joins to the samples. API keys come from the environment, as for `culturebench judge`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.pipeline.evaluation import LM_EVAL_DIR
from culturebench.pipeline.plan import EvalJob
from culturebench.pipeline.state import hash_file, replace_dir, staging_dir, unit_key
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

logger = logging.getLogger(__name__)

JUDGE_VERSION = 1
JUDGE_DIR = "judge"
RESULTS_NAME = "judge.jsonl"
SKIPPED_NOTE = ("no judge configured, so open-ended answers were neither generated nor judged; set judge.spec "
                "(e.g. --set judge.spec=openai:gpt-4o-mini with OPENAI_API_KEY) to score them")


def run(context: StageContext, report: StageReport) -> None:
    if not context.plan.config.judge.spec:
        report.skip(SKIPPED_NOTE)
        logger.info("judge: skipped: %s", SKIPPED_NOTE)
        return
    run_units(context, report, [_unit(context, job) for job in context.plan.evals])


def open_samples_files(context: StageContext, job: EvalJob) -> list[Path]:
    """Return the samples files of the open-ended tasks in one evaluation folder."""
    folder = context.path(job.folder) / LM_EVAL_DIR
    return sorted(path for task in context.plan.open_tasks for path in folder.glob(f"*/samples_{task}_*.jsonl"))


def _unit(context: StageContext, job: EvalJob) -> Unit:
    judge = context.plan.config.judge
    inputs = {
        "samples": [hash_file(path) for path in open_samples_files(context, job)],
        "spec": judge.spec,
        "max_tokens": judge.max_tokens,
    }
    folder = job.folder / JUDGE_DIR
    return Unit(f"judge-{job.name}", unit_key("judge", JUDGE_VERSION, inputs), [folder],
                lambda: _judge(context, job, folder), description=f"judge {job.name}")


def _judge(context: StageContext, job: EvalJob, folder: Path) -> dict:
    from culturebench.judges import GenerationSettings, RunConfig, judge_samples, parse_spec, read_samples, write_results

    settings = context.plan.config.judge
    files = open_samples_files(context, job)
    if not files:
        raise CultureBenchError(f"no open-ended samples in {context.path(job.folder)}; rerun the evaluation stage")
    samples = [sample for path in files for sample in read_samples(path)]
    config = RunConfig(
        concurrency=settings.concurrency,
        settings=GenerationSettings(max_tokens=settings.max_tokens, timeout_s=settings.timeout),
        progress=True,
    )
    result = judge_samples(samples, parse_spec(settings.spec), config)
    counts = result.summary["counts"]
    if counts["scored"] == 0:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in result.summary["failures"].items())
        raise CultureBenchError(
            f"the judge {settings.spec} scored none of {counts['items']} answers of {job.name} ({reasons}); check the "
            "API key variable and the judge spec"
        )
    target = context.path(folder)
    staged = staging_dir(target)
    write_results(result, staged / RESULTS_NAME)
    replace_dir(staged, target)
    return {"counts": counts}
