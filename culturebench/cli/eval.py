"""`culturebench eval`: run `culture_*` tasks on any dataset through lm-eval's Python API."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model on culture_* tasks with lm-evaluation-harness",
        description=(
            "Evaluate a model on culture_* tasks through lm-eval's simple_evaluate. Equivalent to "
            "`lm_eval --tasks ... --metadata '{\"culturebench_data\": PATH}'`, with the output layout "
            "of `lm_eval --output_path DIR --log_samples`."
        ),
    )

    parser.add_argument("--data", default=None,
                        help="items to evaluate: a jsonl/json/parquet/csv file, a YAML seed file or folder, "
                             "a Deep-Culture-Lense copy or hf:OWNER/NAME (default: $CULTUREBENCH_DATA, "
                             "else the bundled benchmark)")
    parser.add_argument("--tasks", default="culture_all",
                        help="comma-separated task or group names, e.g. culture_arabic_both (default culture_all)")
    parser.add_argument("--split", choices=("test", "train", "all"), default="test",
                        help="which items of the data to evaluate (default test)")

    parser.add_argument("--model", default="hf", help="lm-eval model type, e.g. hf or steered_hf (default hf)")
    parser.add_argument("--model-args", default="",
                        help="lm-eval model arguments, e.g. pretrained=google/gemma-3-270m,dtype=float32")
    parser.add_argument("--device", default=None, help="device for the model, e.g. cpu or cuda:0 (default: cuda:0 if available, else cpu)")
    parser.add_argument("--batch-size", default="1", help="batch size, or auto (default 1)")
    parser.add_argument("--limit", type=float, default=None,
                        help="evaluate only the first N documents per task (a value below 1 is a fraction)")
    parser.add_argument("--gen-kwargs", default=None,
                        help="generation overrides, e.g. max_gen_toks=64 (applies to generation tasks)")
    parser.add_argument("--apply-chat-template", action="store_true",
                        help="wrap prompts in the tokenizer's chat template (for instruction-tuned models)")

    parser.add_argument("--option-judge", default=None, metavar="SPEC",
                        help="judge that maps answers without a \\boxed{k} to an option, e.g. openai:gpt-4o-mini "
                             "(sets CULTUREBENCH_JUDGE; default: that variable, else no judge)")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for results_<date>.json and samples_<task>_<date>.jsonl (default: no files)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from culturebench import plugin
    from culturebench.cli.input_checks import check_task_names
    from culturebench.errors import CultureBenchError
    from culturebench.judging import JUDGE_ENV
    from culturebench.loaders import default_source
    from culturebench.tasks.docs import DATA_KEY, SPLIT_KEY, load_source

    if args.limit is not None and args.limit <= 0:
        raise CultureBenchError(f"--limit must be positive, got {args.limit}")
    tasks = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if not tasks:
        raise CultureBenchError("--tasks is empty; give task or group names such as culture_arabic_both")
    if args.option_judge:
        os.environ[JUDGE_ENV] = args.option_judge

    # Fail before loading the model when the data cannot be read.
    dataset = load_source(args.data or default_source())
    logger.info("evaluating %s on %d items from %s", ",".join(tasks), len(dataset), dataset.origin)
    metadata = {SPLIT_KEY: args.split}
    if args.data:
        metadata[DATA_KEY] = args.data

    plugin.install_import_hook()
    manager = _task_manager(args, metadata)
    check_task_names(tasks, manager)
    results = _evaluate(args, tasks, manager)
    if results is None:
        raise CultureBenchError("lm-eval returned no results (only rank 0 of a distributed run reports them)")

    from lm_eval.utils import make_table

    print(make_table(results))
    if "groups" in results:
        print(make_table(results, "groups"))
    return 0


def _task_manager(args: argparse.Namespace, metadata: dict):
    """Build the TaskManager that `simple_evaluate` would build, with the same metadata."""
    from lm_eval.utils import simple_parse_args_string

    from culturebench.cli.input_checks import task_manager

    # simple_evaluate passes the model arguments to the tasks as metadata only when it builds the
    # TaskManager itself (lm-eval 0.4.13), so the merge is repeated here.
    return task_manager(metadata=simple_parse_args_string(args.model_args) | metadata)


def _evaluate(args: argparse.Namespace, tasks: list[str], manager) -> dict | None:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(args.output)) if args.output else None
    results = lm_eval.simple_evaluate(
        model=args.model,
        model_args=args.model_args,
        tasks=tasks,
        batch_size=args.batch_size,
        device=args.device or _default_device(),
        limit=args.limit,
        gen_kwargs=args.gen_kwargs,
        apply_chat_template=args.apply_chat_template,
        log_samples=tracker is not None,
        evaluation_tracker=tracker,
        task_manager=manager,
    )
    if results is None or tracker is None:
        return results

    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    logger.info("wrote results and samples under %s", args.output)
    return results


def _default_device() -> str:
    # lm-eval's HFLM falls back to "cuda" when given no device, which fails on CPU-only torch.
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"
