"""`culturebench report`: analysis documents (JSON + SVG) from sweeps and steered runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from culturebench.errors import CultureBenchError

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="turn sweeps and steered runs into analysis JSON and SVG plots for the leaderboard"
    )
    actions = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)

    sweep = actions.add_parser(
        "sweep",
        help="accuracy against multiplier from one or more `culturebench sweep` output folders",
        description=(
            "Read <folder>/multiplier_<λ>/results.json of each sweep (one sweep per method) and write one "
            "multiplier_sweep document with every method's points, a per-line summary and a plot. With "
            "samples (sweep --log-samples), each point of a log-likelihood task also gets p_correct, the mean "
            "probability of the correct option."
        ),
    )
    sweep.add_argument("folders", nargs="+", type=Path, help="`culturebench sweep --output` folders")
    sweep.add_argument("--title", default=None, help="plot title (default: Multiplier sensitivity)")
    sweep.add_argument("--out", required=True, type=Path, help="output JSON file")
    sweep.add_argument("--plot", type=Path, default=None, help="output SVG file (default: --out with .svg)")
    sweep.set_defaults(func=run_sweep_report)

    generalisation = actions.add_parser(
        "generalisation",
        help="steered minus unsteered per task (MMLU subjects, behaviour sets) with a bootstrap CI",
        description=(
            "Compare the per-document scores of steered runs with an unsteered baseline: p_matching for "
            "behaviour tasks, acc otherwise. Each folder is an lm-eval --output_path run with --log_samples, or "
            "one multiplier folder of `culturebench sweep --log-samples`."
        ),
    )
    generalisation.add_argument("--baseline", required=True, type=Path, help="the unsteered run's folder")
    generalisation.add_argument("--steered", required=True, type=Path, action="append",
                                help="a steered run's folder (repeat for several)")
    generalisation.add_argument("--method", action="append", default=None,
                                help="method label per --steered folder (default: the method in the vector file)")
    generalisation.add_argument("--metric", default=None,
                                help="per-sample metric to compare (default: p_matching where present, else acc)")
    generalisation.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    generalisation.add_argument("--title", default=None, help="plot title (default: Steered minus baseline)")
    generalisation.add_argument("--out", required=True, type=Path, help="output JSON file")
    generalisation.add_argument("--plot", type=Path, default=None, help="output SVG file (default: --out with .svg)")
    generalisation.set_defaults(func=run_generalisation_report)


def run_sweep_report(args) -> int:
    from culturebench.analysis_reports import sweep_summary
    from culturebench.atomic_files import write_json_atomic
    from culturebench.leaderboard.analyses import sweep_results_points
    from culturebench.leaderboard.analysis_svg import write_analysis_svg
    from culturebench.leaderboard.provenance import read_vector_metadata

    points = []
    for folder in args.folders:
        files = sorted(folder.glob("multiplier_*/results.json"))
        if not files:
            raise CultureBenchError(f"{folder} contains no multiplier_*/results.json; pass a `culturebench sweep --output` folder")
        for path in files:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data.get("culturebench_steering"), dict):
                raise CultureBenchError(f"{path} has no culturebench_steering entry, so it is not a sweep result")
            vector = _vector_path((data["culturebench_steering"].get("vectors") or [None])[0], folder)
            metadata = read_vector_metadata(vector) if vector else {}
            probabilities = _correct_probabilities(path.parent, data)
            for point in sweep_results_points(data, metadata):
                split = _split_of(data, point.variant)
                # Points of another split get their own line, so train and test accuracies never merge.
                label = point.variant if split == "test" else f"{point.variant} ({split} split)"
                points.append({
                    "method": point.method, "setting": point.setting, "country": point.country,
                    "variant": label, "split": split, "multiplier": point.multiplier, "accuracy": point.accuracy,
                    "p_correct": probabilities.get(point.variant), "sweep": str(folder),
                })
    if not points:
        raise CultureBenchError("the sweeps report no accuracy (acc, acc_norm, acc_loc or acc_nonloc); nothing to plot")
    document = {"kind": "multiplier_sweep", "points": points, "summary": sweep_summary(points),
                "sweeps": [str(folder) for folder in args.folders]}
    write_json_atomic(args.out, document)
    plot = write_analysis_svg(document, args.plot or args.out.with_suffix(".svg"), args.title)
    for line in document["summary"]:
        _print_summary_line(line)
    print(f"wrote {args.out}" + (f" and {plot}" if plot else ""))
    return 0


def _split_of(data: dict, variant: str | None) -> str:
    """Return the item split a sweep point's task evaluated (`test` unless its metadata names another)."""
    from culturebench.tasks.docs import SPLIT_KEY

    task = (variant or "").split(" ")[0]
    metadata = (data.get("configs", {}).get(task) or {}).get("metadata") or {}
    return str(metadata.get(SPLIT_KEY) or "test")


def _correct_probabilities(folder: Path, data: dict) -> dict[str, float]:
    """Return the mean probability of the correct option per point label (`task` or `task variant`)."""
    from culturebench.analysis_reports import correct_probabilities

    labels = {}
    for task, values in sorted(data["results"].items()):
        samples = folder / f"samples_{task}.jsonl"
        if not samples.is_file() or not isinstance(values, dict):
            continue
        # The accuracy of a point is acc_norm when the task reports it, so its probability is normalised too.
        normalise = any(key.split(",", 1)[0] == "acc_norm" for key in values)
        for variant, probability in correct_probabilities(samples, normalise=normalise).items():
            labels[" ".join(part for part in (task, variant) if part)] = probability
    return labels


def _print_summary_line(line: dict) -> None:
    at_zero = line["accuracy_at_zero"]
    zero = f"{at_zero:.3f}" if at_zero is not None else "-"
    span = line["range_at_least_zero"]
    span_text = f"[{span[0]:g}, {span[1]:g}]" if span else "-"
    print(f"{line['method']:<8} {line['variant'] or '':<40} λ=0 {zero}  best {line['best']['accuracy']:.3f} "
          f"at λ={line['best']['multiplier']:g}  worst {line['worst']['accuracy']:.3f} at λ={line['worst']['multiplier']:g}"
          f"  ≥ λ=0 over {span_text}")


def _vector_path(reference, folder: Path) -> Path | None:
    if not reference:
        return None
    candidate = Path(str(reference))
    for path in (candidate, folder / candidate):
        if path.is_file():
            return path
    logger.warning("vector file %s not found; the method is reported as unknown", reference)
    return None


def run_generalisation_report(args) -> int:
    from culturebench.analysis_reports import generalisation_report, read_run
    from culturebench.atomic_files import write_json_atomic
    from culturebench.leaderboard.analysis_svg import write_analysis_svg

    methods = args.method or []
    if methods and len(methods) != len(args.steered):
        raise CultureBenchError(f"{len(methods)} --method values for {len(args.steered)} --steered folders; give one each")
    baseline = read_run(args.baseline, metric=args.metric)
    steered = []
    for index, folder in enumerate(args.steered):
        run = read_run(folder, metric=args.metric)
        steered.append((run, methods[index] if methods else _method_of(run)))
    document = generalisation_report(baseline, steered, seed=args.seed)
    write_json_atomic(args.out, document)
    plot = write_analysis_svg(document, args.plot or args.out.with_suffix(".svg"), args.title)
    for row in document["comparisons"]:
        print(f"{row['method']:<8} {row['task']:<48} {row['metric']:<10} {row['baseline']:.4f} -> {row['steered']:.4f}  "
              f"Δ {row['delta']:+.4f} (95% CI {row['ci'][0]:+.4f} to {row['ci'][1]:+.4f}, n={row['n']})")
    print(f"wrote {args.out}" + (f" and {plot}" if plot else ""))
    return 0


def _method_of(run) -> str:
    """Return the method in the run's first vector file, or `steered` when it cannot be read."""
    from culturebench.steering.vectors import load_vector

    references = run.steering.get("vectors") or [
        part for part in (run.model_args.get("vector") or "").split(";") if part.strip()
    ]
    path = _vector_path(references[0], run.folder) if references else None
    if path is None:
        return "steered"
    try:
        return load_vector(path).method
    except CultureBenchError as error:
        logger.warning("cannot read the method from %s: %s", path, error)
        return "steered"
