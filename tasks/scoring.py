"""Per-sample scoring and the custom aggregations of the `culture_*` tasks.

Every `process_*` function returns one value per metric of its task. For `both` tasks, the
metrics `acc_loc`, `acc_nonloc`, `rca` and `pnlg` receive a record `{"variant", "correct", "pred"}`
per sample, and their aggregations split the records by variant before calling `culturebench.metrics`.
RCA and PNLG use PNLG's default alpha of 1. When a sample set lacks one variant (for example a
small `--limit`), the aggregations return NaN rather than a number computed from one side.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from culturebench import metrics
from culturebench.extraction import extract_choice
from culturebench.prompts import cloze_choices
from culturebench.tasks.docs import item_from_doc, option_texts

logger = logging.getLogger(__name__)

LOCALIZED = "localized"
NONLOCALIZED = "nonlocalized"
VARIANT_METRICS = ("acc_loc", "acc_nonloc", "rca", "pnlg")


def process_mcq(doc: dict[str, Any], results: Sequence[str]) -> dict[str, int]:
    """Score one `\\boxed{k}` generation: accuracy and extraction failure."""
    extraction = extract_choice(results[0], option_texts(doc), question=doc["question"])
    return {
        "acc": int(extraction.index == int(doc["answer"])),
        "extraction_failed": int(extraction.extraction_failed),
    }


def process_mcq_both(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Score one `\\boxed{k}` generation of a `both` task: `process_mcq` plus the variant record."""
    extraction = extract_choice(results[0], option_texts(doc), question=doc["question"])
    correct = int(extraction.index == int(doc["answer"]))
    return {
        "acc": correct,
        "extraction_failed": int(extraction.extraction_failed),
        **_variant_record(doc, correct, extraction.index),
    }


def process_loglikelihood(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, int]:
    """Score one log-likelihood sample like lm-eval's `acc` and `acc_norm`.

    `acc_norm` divides each option's log-likelihood by the length in characters of its choice
    text, as lm-eval 0.4.13 does.
    """
    raw_choice, normalized_choice = _loglikelihood_choices(doc, results)
    answer = int(doc["answer"])
    return {"acc": int(raw_choice == answer), "acc_norm": int(normalized_choice == answer)}


def process_loglikelihood_both(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> dict[str, Any]:
    """Score one log-likelihood sample of a `both` task; the variant record uses `acc_norm`."""
    raw_choice, normalized_choice = _loglikelihood_choices(doc, results)
    answer = int(doc["answer"])
    correct_norm = int(normalized_choice == answer)
    return {
        "acc": int(raw_choice == answer),
        "acc_norm": correct_norm,
        **_variant_record(doc, correct_norm, normalized_choice),
    }


def _loglikelihood_choices(doc: dict[str, Any], results: Sequence[tuple[float, bool]]) -> tuple[int, int]:
    loglikelihoods = [float(result[0]) for result in results]
    lengths = [max(len(choice), 1) for choice in cloze_choices(item_from_doc(doc))]
    normalized = [loglikelihood / length for loglikelihood, length in zip(loglikelihoods, lengths)]
    return _argmax(loglikelihoods), _argmax(normalized)


def process_open(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Record whether an open-ended generation is non-empty; the judge scores it later."""
    return {"nonempty": int(bool(results[0].strip()))}


def _variant_record(doc: dict[str, Any], correct: int, pred: int | None) -> dict[str, dict[str, Any]]:
    # `pred` (0-based option, -1 when none was extracted) lets result readers compute option bias.
    record = {"variant": doc["variant"], "correct": correct, "pred": -1 if pred is None else pred}
    return {name: record for name in VARIANT_METRICS}


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def variant_accuracy(records: Sequence[dict[str, Any]], variant: str) -> float:
    """Return the accuracy over the records of one variant, or NaN when there are none."""
    correct = [record["correct"] for record in records if record["variant"] == variant]
    if not correct:
        return math.nan
    return metrics.accuracy(correct)


def aggregate_acc_loc(records: Sequence[dict[str, Any]]) -> float:
    """Return localized accuracy over the task's variant records."""
    return variant_accuracy(records, LOCALIZED)


def aggregate_acc_nonloc(records: Sequence[dict[str, Any]]) -> float:
    """Return non-localized accuracy over the task's variant records."""
    return variant_accuracy(records, NONLOCALIZED)


def aggregate_rca(records: Sequence[dict[str, Any]]) -> float:
    """Return RCA (harmonic mean of localized and non-localized accuracy), NaN if a side is empty."""
    acc_loc, acc_nonloc = _both_sides(records, "rca")
    if math.isnan(acc_loc) or math.isnan(acc_nonloc):
        return math.nan
    return metrics.rca(acc_loc, acc_nonloc)


def aggregate_pnlg(records: Sequence[dict[str, Any]]) -> float:
    """Return PNLG with alpha 1 (relative localized/non-localized gap), NaN if a side is empty."""
    acc_loc, acc_nonloc = _both_sides(records, "pnlg")
    if math.isnan(acc_loc) or math.isnan(acc_nonloc):
        return math.nan
    return metrics.pnlg(acc_loc, acc_nonloc)


def _both_sides(records: Sequence[dict[str, Any]], metric: str) -> tuple[float, float]:
    acc_loc = variant_accuracy(records, LOCALIZED)
    acc_nonloc = variant_accuracy(records, NONLOCALIZED)
    if math.isnan(acc_loc) or math.isnan(acc_nonloc):
        logger.warning(
            "%s is NaN: the samples hold %d localized and %d non-localized items; both are needed",
            metric,
            sum(record["variant"] == LOCALIZED for record in records),
            sum(record["variant"] == NONLOCALIZED for record in records),
        )
    return acc_loc, acc_nonloc

