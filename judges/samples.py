"""Read open-ended answers from lm-eval samples files (`samples_<task>_<date>.jsonl`)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturebench.errors import CultureBenchError

logger = logging.getLogger(__name__)

# lm-eval names samples files `samples_<task>_<datetime.isoformat() with ':' replaced by '-'>.jsonl`.
SAMPLES_FILE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
OPEN_ENDED_SUFFIX = "_oe"

# Item fields looked up in each sample's `doc`, first match wins. The culturebench item schema comes
# first, then the Deep-Culture-Lense columns.
QUESTION_FIELDS = ("question", "prompt_open_ended")
GOLD_FIELDS = ("gold_open", "gold", "chosen_open_ended")
VARIANT_FIELDS = ("variant", "localization_status")
_VARIANT_NAMES = {"localized": "localized", "nonlocalized": "nonlocalized", "nolocalized": "nonlocalized"}


@dataclass(frozen=True)
class Sample:
    """One generated answer with the item fields the judge needs and the keys that join it back.

    `samples_file` is the absolute path of the samples file. (`samples_file`, `doc_id`) is unique;
    (`task`, `doc_id`) is unique within one model's run.
    """

    task: str
    doc_id: int
    samples_file: str
    run_model: str
    doc_hash: str | None
    question: str
    gold: str
    answer: str
    country: str | None
    variant: str | None
    language: str | None

    @property
    def missing_fields(self) -> list[str]:
        return [name for name in ("question", "gold") if not getattr(self, name).strip()]


def find_samples_files(path: Path) -> list[Path]:
    """Return the samples files to judge: `path` itself, or the latest open-ended file per task below it."""
    path = Path(path)
    if path.is_file():
        match = SAMPLES_FILE.match(path.name)
        if match and not match.group("task").endswith(OPEN_ENDED_SUFFIX):
            logger.warning("%s is from task %s, which is not open-ended; judging its answers anyway",
                           path.name, match.group("task"))
        return [path]
    if not path.is_dir():
        raise CultureBenchError(f"samples path {str(path)!r} not found; pass a samples_*.jsonl file or a run directory")

    latest: dict[tuple[Path, str], tuple[str, Path]] = {}
    others = []
    for candidate in sorted(path.rglob("samples_*.jsonl")):
        match = SAMPLES_FILE.match(candidate.name)
        if not match or not match.group("task").endswith(OPEN_ENDED_SUFFIX):
            others.append(candidate.name)
            continue
        group = (candidate.parent, match.group("task"))
        if group not in latest or match.group("date") > latest[group][0]:
            latest[group] = (match.group("date"), candidate)
    if not latest:
        found = ", ".join(others[:5]) or "no samples_*.jsonl files"
        raise CultureBenchError(
            f"no open-ended samples (samples_<task>{OPEN_ENDED_SUFFIX}_<date>.jsonl) under {str(path)!r}; "
            f"found {found}. Run lm-eval with --log_samples on the culture_*_oe tasks"
        )
    if others:
        logger.info("skipping %d samples files of tasks that are not open-ended", len(others))
    return sorted(candidate for _, candidate in latest.values())


def read_samples(path: Path) -> list[Sample]:
    """Read every sample from a samples file or run directory, ordered by file and doc id."""
    samples = []
    for file in find_samples_files(Path(path)):
        samples.extend(_read_file(file.resolve()))
    return samples


def _read_file(file: Path) -> list[Sample]:
    match = SAMPLES_FILE.match(file.name)
    task = match.group("task") if match else file.stem.removeprefix("samples_")
    run_model = file.parent.name

    samples = []
    with file.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise CultureBenchError(f"{file}:{number}: invalid JSON in samples file ({error.msg})") from None
            if _is_generation(record) is False:
                raise CultureBenchError(_not_generation_message(file, task))
            samples.append(_sample_from(record, task, str(file), run_model, f"{file}:{number}"))
    samples.sort(key=lambda sample: sample.doc_id)
    return samples


def _is_generation(record: dict[str, Any]) -> bool | None:
    """Return whether a sample comes from a generate_until request, or None when the record cannot tell.

    lm-eval 0.4.13 stores each request's arguments as `gen_args_N: {arg_0, arg_1, ...}`. Only
    generate_until passes a dict of generation settings as `arg_1`. Loglikelihood and multiple_choice
    requests pass the continuation text there, and loglikelihood_rolling requests pass no `arg_1`.
    """
    arguments = record.get("arguments")
    if isinstance(arguments, dict) and isinstance(arguments.get("gen_args_0"), dict):
        return isinstance(arguments["gen_args_0"].get("arg_1"), dict)

    # Without arguments, fall back on the response shape: a log-likelihood response is a
    # (log-probability, is_greedy) pair, which lm-eval writes as two strings.
    responses = record.get("filtered_resps")
    if isinstance(responses, list) and responses:
        first = responses[0]
        if isinstance(first, list) and len(first) == 2 and str(first[1]) in ("True", "False"):
            return False
        return True
    return None


def _not_generation_message(file: Path, task: str) -> str:
    base = task.removesuffix("_ll")
    if base.startswith("culture_") and not base.endswith(OPEN_ENDED_SUFFIX):
        example = f"{base}{OPEN_ENDED_SUFFIX}"
    else:
        example = f"culture_arabic_nonloc{OPEN_ENDED_SUFFIX}"
    return (
        f"{file}: task {task!r} is not a generation task, so its samples contain log-likelihoods and no "
        f"generated text to judge. Judge the samples of an open-ended generation task "
        f"(culture_*{OPEN_ENDED_SUFFIX}, for example {example}) run with lm-eval --log_samples"
    )


def _sample_from(record: dict[str, Any], task: str, samples_file: str, run_model: str, where: str) -> Sample:
    doc = record.get("doc")
    if not isinstance(doc, dict) or "doc_id" not in record:
        raise CultureBenchError(f"{where}: not an lm-eval sample (needs doc_id and a doc object)")
    gold = _first(doc, GOLD_FIELDS) or str(record.get("target") or "")
    variant = _first(doc, VARIANT_FIELDS)
    return Sample(
        task=task,
        doc_id=int(record["doc_id"]),
        samples_file=samples_file,
        run_model=run_model,
        doc_hash=record.get("doc_hash"),
        question=_first(doc, QUESTION_FIELDS),
        gold=gold,
        answer=_answer_text(record),
        country=doc.get("country") or None,
        variant=_VARIANT_NAMES.get(variant, variant or None),
        language=doc.get("language") or None,
    )


def _first(doc: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = doc.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _answer_text(record: dict[str, Any]) -> str:
    """Return the filtered generation (the first one when lm-eval repeats a request)."""
    for key in ("filtered_resps", "resps"):
        value = record.get(key)
        while isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            return value
    return ""
