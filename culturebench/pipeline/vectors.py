"""Stage 3: steering vectors, one per method and setting, in `vectors/<method>-<country>-<setting>.safetensors`.

CAA and SAS are extracted from contrast sets built from the train items (each item's gold option
against the other countries' options), as `culturebench extract` does. BiPO and YaPO are trained
on the stage-2 pairs with `culturebench.steering.training.train_vector`. Their logs go to
`training/<name>.jsonl`, and a checkpoint in `checkpoints/` lets an interrupted training resume.
Vector files keep a default multiplier of 1; evaluation passes the configured multiplier.
"""

from __future__ import annotations

import logging
from pathlib import Path

from culturebench.pipeline.pairs import pair_paths, read_pairs
from culturebench.pipeline.plan import PAIR_PROTOCOLS, VectorJob, model_key
from culturebench.pipeline.state import hash_file, unit_key, write_text_atomic
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

logger = logging.getLogger(__name__)

# Bump when vector files change for the same inputs.
VECTORS_VERSION = 1
CONTRAST_FORMATS = {"ll": "cloze", "mcq": "mcq"}


def run(context: StageContext, report: StageReport) -> None:
    jobs = context.plan.vectors
    if not jobs:
        report.skip("no steering methods requested (methods is empty)")
        return
    run_units(context, report, [_unit(context, job) for job in jobs])


def _unit(context: StageContext, job: VectorJob) -> Unit:
    plan = context.plan
    config = plan.config
    inputs = {**model_key(plan), "method": job.method, "layer": plan.layer, "protocol": plan.protocol}
    if job.method in ("sas", "yapo"):
        inputs["sae"] = plan.sae.identity
    if job.trained:
        train_path, heldout_path = pair_paths(job.country, job.setting)
        inputs["pairs"] = hash_file(context.path(train_path))
        if config.train.eval_every > 0:
            inputs["heldout_pairs"] = hash_file(context.path(heldout_path))
        train = dict(vars(config.train))
        train.pop("pair_batch_size")
        inputs["train"] = train
        outputs = [job.path, job.log_path]
        compute = lambda: _train(context, job)  # noqa: E731
    else:
        inputs["items"] = [item.to_dict() for item in plan.train_items(job.setting)]
        inputs["extract"] = {"include_western": config.extract.include_western,
                             "tau": config.extract.tau if job.method == "sas" else None}
        outputs = [job.path]
        compute = lambda: _extract(context, job)  # noqa: E731
    return Unit(f"vector-{job.name}", unit_key("vector", VECTORS_VERSION, inputs), outputs, compute,
                description=f"{job.method} vector for {job.country} ({job.setting})")


def _extract(context: StageContext, job: VectorJob) -> dict:
    from culturebench.steering.contrast import groups_from_items, groups_sha256
    from culturebench.steering.extract import READ_POSITIONS, extract_caa, extract_sas
    from culturebench.steering.identity import model_id_of, model_revision_of
    from culturebench.steering.layers import find_decoder_layout
    from culturebench.steering.vectors import SteeringVector, save_vector

    plan = context.plan
    config = plan.config
    model, tokenizer = context.resources.model, context.resources.tokenizer
    prompt_format = CONTRAST_FORMATS[plan.protocol]
    groups = groups_from_items(plan.train_items(job.setting), format=prompt_format, tokenizer=tokenizer,
                               include_western=config.extract.include_western)
    source = None
    if job.method == "caa":
        vector, stats = extract_caa(model, tokenizer, groups, plan.layer, batch_size=config.extract.batch_size)
    else:
        sae, source = context.resources.sae_and_source
        vector, stats = extract_sas(model, tokenizer, groups, plan.layer, sae, tau=config.extract.tau,
                                    batch_size=config.extract.batch_size)
    extra = {
        "format": prompt_format,
        "read_positions": READ_POSITIONS,
        "split": "train",
        "include_western": str(config.extract.include_western).lower(),
        **{key: str(value) for key, value in stats.items()},
    }
    if job.method == "sas":
        extra["tau"] = str(config.extract.tau)
    steering_vector = SteeringVector(
        vector=vector,
        method=job.method,
        layer=plan.layer,
        space="sae" if job.method == "sas" else "dense",
        model_id=model_id_of(model),
        hookpoint=find_decoder_layout(model).hookpoint(plan.layer),
        model_revision=model_revision_of(model),
        sae=source,
        training_data_sha256=groups_sha256(groups),
        country=job.country,
        setting=job.setting,
        extra=extra,
    )
    save_vector(steering_vector, context.path(job.path))
    return {"norm": steering_vector.norm, "nonzero": steering_vector.l0, **stats}


def _train(context: StageContext, job: VectorJob) -> dict:
    from culturebench.steering.training import TrainConfig, train_vector
    from culturebench.steering.vectors import save_vector

    plan = context.plan
    settings = plan.config.train
    model, tokenizer = context.resources.model, context.resources.tokenizer
    train_path, heldout_path = pair_paths(job.country, job.setting)
    pairs = read_pairs(context, train_path)
    heldout = read_pairs(context, heldout_path) if settings.eval_every > 0 else []
    work = context.path(Path("checkpoints"))
    config = TrainConfig(
        method=job.method,
        layer=plan.layer,
        steps=settings.steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_steps,
        beta=settings.beta,
        reference=settings.reference,
        l1=settings.l1 if job.method == "yapo" else 0.0,
        seed=plan.config.seed,
        eval_every=settings.eval_every,
        checkpoint_every=settings.checkpoint_every,
        checkpoint_path=work / f"{job.name}.checkpoint.safetensors",
        log_path=work / f"{job.name}.log.jsonl",
        resume=True,
    )
    sae = source = None
    if job.method == "yapo":
        sae, source = context.resources.sae_and_source
    vector, records = train_vector(model, tokenizer, pairs, config, sae=sae, sae_source=source, eval_pairs=heldout,
                                   country=job.country, setting=job.setting)
    vector.extra.update({"protocol": PAIR_PROTOCOLS[plan.protocol], "split": "train"})
    save_vector(vector, context.path(job.path))
    # The working log is appended during training; the run's copy appears only once training finished.
    write_text_atomic(context.path(job.log_path), config.log_path.read_text(encoding="utf-8"))
    config.checkpoint_path.unlink(missing_ok=True)
    config.log_path.unlink(missing_ok=True)
    last = records[-1] if records else {}
    info = {"pairs": len(pairs), "heldout_pairs": len(heldout), "norm": vector.norm, "nonzero": vector.l0,
            "final_loss": vector.final_loss}
    if "eval_loss" in last:
        info["eval_loss"] = last["eval_loss"]
    return info
