"""Stage 2: preference pairs for BiPO and YaPO, with the unsteered model's own rejected answers.

One unit per setting writes `pairs/<country>-<setting>.jsonl` from the train split and, when
`train.eval_every` is positive, `pairs/<country>-<setting>.heldout.jsonl` from the test split
(its loss is logged during training, never used to fit the vector). The model's scores and
generations are cached in `cache/responses.jsonl`, so an interrupted stage redoes at most one batch.
"""

from __future__ import annotations

from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.pipeline.plan import model_key
from culturebench.pipeline.state import unit_key
from culturebench.pipeline.units import StageContext, StageReport, Unit, run_units

# Bump when the pair files change for the same inputs.
PAIRS_VERSION = 1
RESPONSE_CACHE = Path("cache") / "responses.jsonl"


def pair_paths(country: str, setting: str) -> tuple[Path, Path]:
    """Return the train and held-out pair files of one setting, relative to the run directory."""
    stem = f"{country}-{setting}"
    return Path("pairs") / f"{stem}.jsonl", Path("pairs") / f"{stem}.heldout.jsonl"


def pair_settings(context: StageContext) -> list[str]:
    """Return the settings that need pairs: all of them when BiPO or YaPO is requested, else none."""
    plan = context.plan
    if not any(job.trained for job in plan.vectors):
        return []
    return list(plan.config.settings)


def run(context: StageContext, report: StageReport) -> None:
    settings = pair_settings(context)
    if not settings:
        report.skip("no BiPO or YaPO vectors requested")
        return
    run_units(context, report, [_unit(context, setting) for setting in settings])


def _unit(context: StageContext, setting: str) -> Unit:
    plan = context.plan
    config = plan.config
    train_path, heldout_path = pair_paths(config.country, setting)
    heldout = config.train.eval_every > 0
    inputs = {
        **model_key(plan),
        "protocol": plan.pair_protocol,
        "train_items": [item.to_dict() for item in plan.train_items(setting)],
        "heldout_items": [item.to_dict() for item in plan.test_items(setting)] if heldout else [],
    }
    outputs = [train_path, heldout_path] if heldout else [train_path]
    return Unit(
        name=f"pairs-{config.country}-{setting}",
        key=unit_key("pairs", PAIRS_VERSION, inputs),
        outputs=outputs,
        compute=lambda: _build(context, setting, train_path, heldout_path if heldout else None),
        description=f"pairs for {config.country} ({setting})",
    )


def _build(context: StageContext, setting: str, train_path: Path, heldout_path: Path | None) -> dict:
    from culturebench.steering.preferences import build_pairs, save_pairs

    plan = context.plan
    resources = context.resources
    common = dict(
        protocol=plan.pair_protocol,
        cache_path=context.path(RESPONSE_CACHE),
        batch_size=plan.config.train.pair_batch_size,
    )
    pairs = build_pairs(resources.model, resources.tokenizer, plan.train_items(setting), **common)
    if not pairs:
        raise CultureBenchError(
            f"no {plan.pair_protocol} preference pairs for {plan.config.country} ({setting}): the model already "
            "answers every train item correctly or gave empty answers; try another protocol, setting or country"
        )
    save_pairs(pairs, context.path(train_path))
    info = {"pairs": len(pairs)}
    if heldout_path is not None:
        heldout = build_pairs(resources.model, resources.tokenizer, plan.test_items(setting), **common)
        save_pairs(heldout, context.path(heldout_path))
        info["heldout_pairs"] = len(heldout)
    return info


def read_pairs(context: StageContext, path: Path):
    """Read a pair file written by this stage (empty list for an empty file)."""
    from culturebench.steering.preferences import PreferencePair
    from culturebench.steering.jsonl_files import read_jsonl

    return [PreferencePair(record["prompt"], record["chosen"], record["rejected"], record.get("source", ""))
            for record in read_jsonl(context.path(path))]
