"""Read lm-eval output: `results_<date>.json` and the `samples_<task>_<date>.jsonl` files beside it.

The layout and field names are those written by lm-eval 0.4.13 with `--output_path DIR --log_samples`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturebench.extraction import extract_choice
from culturebench.leaderboard.fields import as_float, as_int, as_text

logger = logging.getLogger(__name__)

RESULTS_NAME = re.compile(r"^results_(?P<date_id>.+)\.json$")
# Sample keys that give per-sample correctness, in order of preference.
CORRECTNESS_KEYS = ("acc", "exact_match")
CHOSEN_KEYS = ("pred", "chosen")


@dataclass
class JudgeVerdict:
    """One judge result joined to a sample; `score` is in [0, 1] and None when the judge failed."""

    judge: str | None
    status: str
    score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    rationale: str | None = None


@dataclass
class Sample:
    """One scored answer from an lm-eval samples file, with the item fields its doc carries."""

    task: str
    doc_id: int
    language: str | None
    country: str | None
    variant: str | None
    item_id: str | None
    question: str | None
    options: list[tuple[str, str | None]]
    answer: int | None
    gold: str | None
    response: str | None
    correct: float | None
    chosen: int | None
    extraction_failed: bool
    open_ended: bool
    verdict: JudgeVerdict | None = None

    @property
    def chosen_country(self) -> str | None:
        """Country of the chosen option; None when nothing valid was chosen or options have no country."""
        if self.chosen is None or not 0 <= self.chosen < len(self.options):
            return None
        return self.options[self.chosen][1]

    @property
    def is_culture_item(self) -> bool:
        return self.language is not None and self.variant is not None


@dataclass
class TaskOutput:
    """One task's entry in a results file, with its samples when the samples file was found."""

    task: str
    results_file: Path
    date: float | None
    version: str | None
    output_type: str | None
    metrics: dict[str, float]
    n_original: int | None
    n_effective: int | None
    config: dict[str, Any]
    samples_file: Path | None = None
    samples: list[Sample] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def open_ended(self) -> bool:
        return self.task.endswith("_oe")

    def metric(self, name: str) -> float | None:
        """Return an aggregated metric by name, whatever its lm-eval filter suffix (`acc,none`)."""
        for key in sorted(self.metrics):
            if key == name or key.split(",", 1)[0] == name:
                return self.metrics[key]
        return None


@dataclass
class ResultsFile:
    """One lm-eval `results_<date>.json` file and the tasks it reports."""

    path: Path
    date: float | None
    data: dict[str, Any]
    tasks: dict[str, TaskOutput]


def is_results_file(path: Path) -> bool:
    return RESULTS_NAME.match(path.name) is not None


def read_results_file(path: Path, metric: str | None = None) -> ResultsFile:
    """Read a results file and the samples files written with it.

    Args:
        path: the `results_<date>.json` file.
        metric: the per-sample key that stores correctness; None takes `acc_norm` for log-likelihood
            tasks that report it, else `acc`, then `exact_match`.

    Raises:
        ValueError: the file is not JSON or has no `results` object.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ValueError(f"{path} has no 'results' object, so it is not an lm-eval results file")
    date_id = RESULTS_NAME.match(path.name).group("date_id")
    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    counts = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    versions = data.get("versions") if isinstance(data.get("versions"), dict) else {}
    date = as_float(data.get("date"))

    tasks = {}
    for task, values in sorted(data["results"].items()):
        # Groups appear in `results` too but have no config of their own.
        if task not in configs or not isinstance(values, dict):
            continue
        config = configs[task] if isinstance(configs[task], dict) else {}
        count = counts.get(task) if isinstance(counts.get(task), dict) else {}
        output = TaskOutput(
            task=task,
            results_file=path,
            date=date,
            version=as_text(versions.get(task)),
            output_type=as_text(config.get("output_type")),
            metrics=_numeric_metrics(values),
            n_original=as_int(count.get("original")),
            n_effective=as_int(count.get("effective")),
            config=config,
        )
        samples_path = path.with_name(f"samples_{task}_{date_id}.jsonl")
        if samples_path.is_file():
            output.samples_file = samples_path
            output.samples = read_samples(samples_path, output, metric)
        tasks[task] = output
    return ResultsFile(path=path, date=date, data=data, tasks=tasks)


def read_samples(path: Path, output: TaskOutput, metric: str | None = None) -> list[Sample]:
    """Read one samples file; lines that are not JSON objects are counted in `output.problems`."""
    samples = []
    unreadable = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                unreadable += 1
                continue
            if not isinstance(record, dict) or as_int(record.get("doc_id")) is None:
                unreadable += 1
                continue
            samples.append(_sample_from_record(record, output, metric))
    if unreadable:
        output.problems.append(f"{path.name}: {unreadable} unreadable line(s) skipped")
        logger.warning("%s: skipped %d unreadable sample line(s)", path, unreadable)
    samples.sort(key=lambda sample: sample.doc_id)
    return samples


def _sample_from_record(record: dict[str, Any], output: TaskOutput, metric: str | None) -> Sample:
    doc = record.get("doc") if isinstance(record.get("doc"), dict) else {}
    options = _options(doc.get("options"))
    question = as_text(doc.get("question")) or _prompt(record)
    response = None
    if output.output_type == "generate_until":
        response = _first_text(record.get("filtered_resps")) or _first_text(record.get("resps"))

    key = _scoring_key(record, output, metric)
    chosen = _chosen(record, output, key, options, question, response)
    return Sample(
        task=output.task,
        doc_id=as_int(record.get("doc_id")),
        language=as_text(doc.get("language")),
        country=as_text(doc.get("country")),
        variant=_variant(doc.get("variant")),
        item_id=as_text(doc.get("id")),
        question=question,
        options=options,
        answer=as_int(doc.get("answer")),
        gold=as_text(doc.get("gold_open")) or as_text(record.get("target")),
        response=response,
        correct=None if output.open_ended else _correctness(record, key),
        chosen=chosen,
        extraction_failed=_truthy(_lookup(record, "extraction_failed")),
        open_ended=output.open_ended,
    )


def _numeric_metrics(values: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for key, value in values.items():
        number = as_float(value)
        if number is not None and key not in ("sample_len",):
            metrics[key] = number
    return metrics


def _options(raw: Any) -> list[tuple[str, str | None]]:
    if not isinstance(raw, list):
        return []
    options = []
    for option in raw:
        if isinstance(option, dict):
            options.append((as_text(option.get("text")) or "", as_text(option.get("country"))))
        else:
            options.append((as_text(option) or "", None))
    return options


def _variant(value: Any) -> str | None:
    text = as_text(value)
    if text in ("nonlocalized", "nolocalized", "non-localized", "nonlocalised"):
        return "nonlocalized"
    return text


def _prompt(record: dict[str, Any]) -> str | None:
    arguments = record.get("arguments")
    if isinstance(arguments, dict):
        first = arguments.get("gen_args_0")
        if isinstance(first, dict):
            return as_text(first.get("arg_0"))
    return None


def _first_text(value: Any) -> str | None:
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def _lookup(record: dict[str, Any], key: str) -> Any:
    """Return `record[key]`, or the same key inside a dict-valued per-sample metric."""
    if key in record:
        return record[key]
    for name in record.get("metrics") or []:
        value = record.get(name)
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(as_float(value))


def _scoring_key(record: dict[str, Any], output: TaskOutput, metric: str | None) -> str | None:
    """Return the per-sample key that stores correctness.

    Log-likelihood tasks are scored by `acc_norm` when the sample has it, because the length-normalised
    choice is the one the `culture_*_ll` tasks use for their localized/non-localized split.
    """
    if metric:
        return metric
    if output.output_type == "multiple_choice" and "acc_norm" in record:
        return "acc_norm"
    return next((key for key in CORRECTNESS_KEYS if key in record), None)


def _correctness(record: dict[str, Any], key: str | None) -> float | None:
    if key is not None:
        value = record.get(key)
        if isinstance(value, dict):
            value = value.get("correct")
        number = as_float(value)
        if number is not None:
            return number
    return as_float(_lookup(record, "correct"))


def _chosen(
    record: dict[str, Any],
    output: TaskOutput,
    key: str | None,
    options: list[tuple[str, str | None]],
    question: str | None,
    response: str | None,
) -> int | None:
    """Return the chosen option index, -1 for a failed extraction, None when unknown."""
    for name in CHOSEN_KEYS:
        value = _lookup(record, name)
        if name in record or value is not None:
            index = as_int(value)
            return -1 if index is None or index < 0 else index
    if output.output_type == "multiple_choice":
        return _argmax_loglikelihood(record, output, normalise=key == "acc_norm")
    if output.open_ended or response is None or not options:
        return None
    # No judge here: building the site must not call a model. An answer that the evaluation
    # resolved through its judge fallback therefore counts as "no option" in the bias measures.
    extraction = extract_choice(response, [text for text, _ in options], question=question or "", judge=None)
    return -1 if extraction.index is None else extraction.index


def _argmax_loglikelihood(record: dict[str, Any], output: TaskOutput, normalise: bool) -> int | None:
    """Pick the option the way lm-eval's `acc` (or `acc_norm`) does for a `multiple_choice` task."""
    responses = record.get("filtered_resps")
    if not isinstance(responses, list) or not responses:
        return None
    loglikelihoods = []
    for response in responses:
        value = response[0] if isinstance(response, list) and response else response
        number = as_float(value)
        if number is None:
            return None
        loglikelihoods.append(number)

    if normalise:
        lengths = _choice_lengths(record, output, len(loglikelihoods))
        if lengths is None:
            return None
        loglikelihoods = [value / length for value, length in zip(loglikelihoods, lengths)]
    return max(range(len(loglikelihoods)), key=lambda index: (loglikelihoods[index], -index))


def _choice_lengths(record: dict[str, Any], output: TaskOutput, count: int) -> list[float] | None:
    """Return each choice's length in characters, without the target delimiter lm-eval prepends."""
    arguments = record.get("arguments")
    if not isinstance(arguments, dict):
        return None
    delimiter = output.config.get("target_delimiter", " ")
    delimiter = delimiter if isinstance(delimiter, str) else " "
    lengths = []
    for index in range(count):
        argument = arguments.get(f"gen_args_{index}")
        continuation = argument.get("arg_1") if isinstance(argument, dict) else None
        if not isinstance(continuation, str):
            return None
        if delimiter and continuation.startswith(delimiter):
            continuation = continuation[len(delimiter):]
        lengths.append(float(max(len(continuation), 1)))
    return lengths
