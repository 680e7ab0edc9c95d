"""`culturebench sweep`: evaluate lm-eval tasks at several steering multipliers in one model load."""

from __future__ import annotations

import math
from pathlib import Path

from culturebench.errors import CultureBenchError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run lm-eval tasks at several steering multipliers without reloading the model",
        description=(
            "Load the model once, then for each multiplier re-register the steering hooks and run "
            "the tasks; one lm-eval results file is written per multiplier."
        ),
    )
    parser.add_argument("--tasks", required=True, help="comma-separated lm-eval task names (e.g. culture_spanish_nonloc)")
    parser.add_argument("--vector", required=True, help="vector file(s), ';'-separated")
    parser.add_argument("--multipliers", required=True, help="comma-separated multipliers, e.g. 0,0.5,1,2,4")
    parser.add_argument("--model", default="default", help="preset name, Hugging Face id or local folder (default: default)")
    parser.add_argument("--positions", default="all", choices=("all", "prompt", "generated"),
                        help="positions to steer (default all)")
    parser.add_argument("--sae", default=None, help="SAE source(s) for SAE-space vectors, ';'-separated")
    parser.add_argument("--full-phi", action="store_true", help="compute Φ in full form instead of on the support")
    parser.add_argument("--limit", type=float, default=None, help="documents per task (lm-eval --limit)")
    parser.add_argument("--batch-size", default="8", help="lm-eval batch size (default 8)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available, else CPU)")
    parser.add_argument("--dtype", default="auto", help="model dtype (default auto)")
    parser.add_argument("--include-path", default=None, help="extra folder of lm-eval task YAML files")
    parser.add_argument("--data", default=None,
                        help="items for the culture_* tasks, as in `culturebench eval --data` (default: "
                             "$CULTUREBENCH_DATA, else the bundled benchmark)")
    parser.add_argument("--split", choices=("test", "train", "all"), default="test",
                        help="items the culture_* tasks evaluate (default test). Use train to pick a multiplier "
                             "without looking at test items")
    parser.add_argument("--log-samples", action="store_true", help="also write per-document samples")
    parser.add_argument("--output", required=True, type=Path, help="output folder (one sub-folder per multiplier)")
    parser.set_defaults(func=run)


def parse_multipliers(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise CultureBenchError(f"invalid --multipliers {text!r}: use numbers joined by commas") from error
    if not values:
        raise CultureBenchError("--multipliers is empty; give at least one number")
    if not all(math.isfinite(value) for value in values):
        raise CultureBenchError(f"invalid --multipliers {text!r}: every multiplier must be a finite number")
    return values


def run(args) -> int:
    import torch

    from culturebench.cli.input_checks import check_task_names, task_manager
    from culturebench.steering.lm_eval_model import SteeredHFLM
    from culturebench.steering.sweep import run_sweep
    from culturebench.tasks.docs import DATA_KEY, SPLIT_KEY, load_source

    multipliers = parse_multipliers(args.multipliers)
    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    if not tasks:
        raise CultureBenchError("--tasks is empty; give task or group names such as culture_spanish_nonloc")
    if args.include_path is not None and not Path(args.include_path).is_dir():
        raise CultureBenchError(f"--include-path {args.include_path} is not a folder; give a folder of task YAML files")
    metadata = {SPLIT_KEY: args.split}
    if args.data:
        # Fail before loading the model when the data cannot be read.
        load_source(args.data)
        metadata[DATA_KEY] = args.data
    # The task names are checked before the model loads, so a misspelt name fails without waiting for it.
    manager = task_manager(include_path=args.include_path, metadata=metadata)
    check_task_names(tasks, manager)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    lm = SteeredHFLM(
        pretrained=args.model, vector=args.vector, multiplier=multipliers[0], positions=args.positions,
        sae=args.sae, restricted=not args.full_phi, device=device, dtype=args.dtype, batch_size=batch_size,
    )
    limit = int(args.limit) if args.limit is not None and args.limit >= 1 else args.limit
    paths = run_sweep(lm, tasks, multipliers, args.output, task_manager=manager, limit=limit,
                      log_samples=args.log_samples)
    for multiplier, path in zip(multipliers, paths):
        print(f"multiplier {multiplier:g}: {path}")
    return 0
