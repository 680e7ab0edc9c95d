"""Stage 4: evaluate the baseline and every steered model on the test split through lm-eval.

Each evaluated setting is one unit writing `evals/<name>/`: lm-eval's own output layout
(`lm_eval/<model>/results_<date>.json` and `samples_<task>_<date>.jsonl`) and a `run.json`
manifest that the leaderboard reads. The folder is built under a temporary name and renamed when
complete. One `steered_hf` model serves every setting: between settings its hooks are removed
and the next vector's hooks registered, so the weights load once per run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from culturebench import __version__
from culturebench.pipeline.plan import BASELINE, EvalJob, Plan, model_key
from culturebench.pipeline.state import hash_file, replace_dir, staging_dir, unit_key, write_json_atomic
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

logger = logging.getLogger(__name__)

# Bump when evaluation outputs change for the same inputs.
EVAL_VERSION = 1
LM_EVAL_DIR = "lm_eval"
# The per-sample key holding correctness, per protocol (the leaderboard reads it from run.json).
METRICS = {"ll": "acc_norm", "mcq": "acc"}


def run(context: StageContext, report: StageReport) -> None:
    run_units(context, report, [_unit(context, job) for job in context.plan.evals])


def _unit(context: StageContext, job: EvalJob) -> Unit:
    import lm_eval

    from culturebench.tasks.table import TASK_VERSION

    plan = context.plan
    config = plan.config
    inputs = {
        **model_key(plan),
        "tasks": plan.tasks + plan.open_tasks,
        "task_version": TASK_VERSION,
        "lm_eval": lm_eval.__version__,
        "protocol": plan.protocol,
        "data": plan.data_identity,
        "limit": config.eval.limit,
        "batch_size": config.eval.batch_size,
        "positions": config.positions,
        "seed": config.seed,
        "vector": hash_file(job.vector) if job.vector is not None else None,
        "multiplier": job.multiplier,
        "max_gen_toks": config.eval.max_gen_toks,
    }
    return Unit(f"eval-{job.name}", unit_key("eval", EVAL_VERSION, inputs), [job.folder],
                lambda: _evaluate(context, job), description=f"evaluate {job.name}")


def _evaluate(context: StageContext, job: EvalJob) -> dict:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    plan = context.plan
    config = plan.config
    target = context.path(job.folder)
    staged = staging_dir(target)
    lm = context.resources.lm
    context.resources.check_clean_model()
    if job.vector is None:
        lm.load_vectors(None)
    else:
        lm.load_vectors(str(job.vector), multiplier=job.multiplier)
    try:
        tracker = EvaluationTracker(output_path=str(staged / LM_EVAL_DIR))
        started = time.time()
        results = lm_eval.simple_evaluate(
            model=lm,
            model_args=_model_args(plan, job),
            tasks=plan.tasks + plan.open_tasks,
            task_manager=context.resources.task_manager,
            limit=config.eval.limit,
            log_samples=True,
            evaluation_tracker=tracker,
            apply_chat_template=plan.protocol == "mcq",
            gen_kwargs={"max_gen_toks": config.eval.max_gen_toks} if config.eval.max_gen_toks else None,
            # The metrics stage bootstraps its own confidence intervals from the samples.
            bootstrap_iters=0,
            random_seed=config.seed,
            numpy_random_seed=config.seed,
            torch_random_seed=config.seed,
            fewshot_random_seed=config.seed,
        )
    finally:
        lm.remove_steering()
    context.resources.check_clean_model()
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    write_json_atomic(staged / "run.json", manifest(plan, job, target, started))
    replace_dir(staged, target)
    return {task: _headline(results["results"].get(task, {})) for task in plan.tasks}


def _model_args(plan: Plan, job: EvalJob) -> dict:
    """Return the model arguments recorded in lm-eval's results (the model itself is passed as an object)."""
    args = {"pretrained": plan.model.model_id, "dtype": plan.config.dtype, "positions": plan.config.positions}
    if job.vector is not None:
        args["vector"] = str(job.vector)
        args["multiplier"] = job.multiplier
    return args


def _headline(task_results: dict) -> dict:
    return {key.split(",")[0]: value for key, value in task_results.items()
            if isinstance(value, (int, float)) and not key.startswith("alias")}


def manifest(plan: Plan, job: EvalJob, folder: Path, started: float) -> dict:
    """Build the `run.json` of one evaluated setting (the fields docs/leaderboard.md lists)."""
    import lm_eval

    config = plan.config
    vector = None
    if job.vector is not None:
        vector = _relative(job.vector, folder)
    sae = None
    if job.method in ("sas", "yapo") and plan.sae is not None and not job.given:
        sae = {"path": plan.sae.spec, "sha256": plan.sae.identity.get("weights_sha256")}
    document = {
        "kind": "run",
        "name": job.name,
        "method": job.method,
        "setting": job.setting,
        "country": job.country or config.country,
        "language": plan.language,
        "model": plan.model.model_id,
        "model_revision": None,
        "vector": vector,
        "vector_sha256": hash_file(job.vector) if job.vector is not None else None,
        "layer": plan.layer if job.method != BASELINE else None,
        "multiplier": job.multiplier,
        "sae": sae,
        "judge": config.judge.spec,
        "dataset": plan.dataset.origin,
        "dataset_sha256": plan.data_identity,
        "seeds": {"train": config.seed, "eval": config.seed},
        "metric": METRICS[plan.protocol],
        "tasks": plan.tasks + plan.open_tasks,
        "limit": config.eval.limit,
        "culturebench_version": __version__,
        "lm_eval_version": lm_eval.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "status": "ok",
        "error": None,
    }
    if job.given:
        # The leaderboard reads what run.json leaves out from the vector file's header instead.
        for key in ("layer", "sae", "setting", "country"):
            del document[key]
    return document


def _relative(path: Path, folder: Path) -> str:
    import os

    return os.path.relpath(path, folder)
