"""Multiplier sweeps in one model load: re-register the hooks for each λ and rerun lm-eval."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from culturebench.atomic_files import atomic_open
from culturebench.steering.lm_eval_model import SteeredHFLM

logger = logging.getLogger(__name__)


def multiplier_label(multiplier: float) -> str:
    """Return a file-name-safe label for λ, e.g. `0.5` -> `0.5`, `-1` -> `m1`, `2.0` -> `2`."""
    text = f"{multiplier:g}"
    return text.replace("-", "m")


def _write_json(path: Path, payload) -> None:
    from lm_eval.utils import handle_non_serializable

    with atomic_open(path, "w", encoding="utf-8", fsync=False) as stream:
        json.dump(payload, stream, indent=2, ensure_ascii=False, default=handle_non_serializable)


def _write_samples(path: Path, samples: list[dict]) -> None:
    from lm_eval.utils import handle_non_serializable

    with atomic_open(path, "w", encoding="utf-8", fsync=False) as stream:
        for sample in samples:
            stream.write(json.dumps(sample, ensure_ascii=False, default=handle_non_serializable) + "\n")


def run_sweep(
    lm: SteeredHFLM,
    tasks: Sequence[str],
    multipliers: Sequence[float],
    output_dir: str | Path,
    *,
    task_manager=None,
    limit: int | float | None = None,
    log_samples: bool = False,
    **evaluate_kwargs,
) -> list[Path]:
    """Evaluate `tasks` once per multiplier with the same loaded model.

    Writes `<output_dir>/multiplier_<λ>/results.json` (lm-eval's results dictionary plus a
    `culturebench_steering` entry naming λ, the files and the positions) and, with
    `log_samples`, `samples_<task>.jsonl` beside it.

    Returns:
        The results files, in the order of `multipliers`.

    Example:
        >>> lm = SteeredHFLM(pretrained="default", vector="caa.safetensors")
        >>> run_sweep(lm, ["culture_spanish_nonloc"], [0, 1, 2], "runs/sweep")
    """
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    # Indexing every task YAML takes seconds, so the sweep does it once, not once per multiplier.
    task_manager = task_manager if task_manager is not None else TaskManager()
    output_dir = Path(output_dir)
    written = []
    for multiplier in multipliers:
        lm.set_multiplier(multiplier)
        logger.info("sweep: evaluating %s at multiplier %g", ", ".join(tasks), multiplier)
        results = simple_evaluate(
            model=lm, tasks=list(tasks), task_manager=task_manager, limit=limit, log_samples=log_samples,
            **evaluate_kwargs,
        )
        if results is None:  # lm-eval returns None on non-zero ranks of a multi-process run
            continue
        samples = results.pop("samples", None) or {}
        results["culturebench_steering"] = {
            "multiplier": multiplier,
            "multipliers": lm.multipliers,
            "vectors": [item.path for item in lm.steering.files],
            "positions": lm.positions,
            "restricted": lm.restricted,
        }
        folder = output_dir / f"multiplier_{multiplier_label(multiplier)}"
        path = folder / "results.json"
        _write_json(path, results)
        for task, task_samples in samples.items():
            _write_samples(folder / f"samples_{task}.jsonl", task_samples)
        written.append(path)
        logger.info("sweep: wrote %s", path)
    return written
