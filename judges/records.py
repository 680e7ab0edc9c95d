"""Per-item judge results and the run summary: counts, failures by reason, tokens and cost."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from culturebench.judges.client import Usage, Verdict
from culturebench.judges.pricing import Prices, estimate_cost
from culturebench.judges.rubrics import CRITERIA, FLAGS, OPEN_ENDED, SCORE_MAX, SCORE_MIN
from culturebench.judges.samples import Sample
from culturebench.judges.spec import JudgeSpec
from culturebench.metrics import normalize_score

OK = "ok"
FAILED = "failed"


def result_record(sample: Sample, spec: JudgeSpec, verdict: Verdict) -> dict[str, Any]:
    """Return the result of judging one sample; (`samples_file`, `doc_id`) joins it to the sample.

    Failed items carry `status` "failed", a `failure_reason` and None scores, so means skip them.
    `scores` are normalised to [0, 1] for the metrics; `raw_scores` are the judge's 1–5 integers.
    `samples_file` is absolute here; `write_results` stores it relative to the results file.
    """
    value = verdict.value or {}
    raw_scores = value.get("scores")
    usage = verdict.usage
    return {
        "task": sample.task,
        "doc_id": sample.doc_id,
        "samples_file": sample.samples_file,
        "run_model": sample.run_model,
        "doc_hash": sample.doc_hash,
        "country": sample.country,
        "variant": sample.variant,
        "language": sample.language,
        "judge": spec.text,
        "judge_backend": spec.backend,
        "judge_model": spec.model,
        "rubric": OPEN_ENDED.name,
        "rubric_version": OPEN_ENDED.version,
        "status": OK if verdict.ok else FAILED,
        "failure_reason": verdict.failure_reason,
        "failure_detail": verdict.failure_detail or None,
        "scores": (
            {name: normalize_score(score, SCORE_MIN, SCORE_MAX) for name, score in raw_scores.items()}
            if raw_scores else None
        ),
        "raw_scores": raw_scores,
        "flags": value.get("flags"),
        "rationale": value.get("rationale"),
        "repaired": verdict.repaired,
        "tokens": {"input": usage.input_tokens, "output": usage.output_tokens, "thinking": usage.thinking_tokens},
        "calls": {"requests": usage.requests, "cached": usage.cached_calls, "retries": usage.retries},
    }


def summarize(
    records: Sequence[dict[str, Any]],
    usages: Sequence[Usage],
    spec: JudgeSpec,
    prices: Prices | None,
    elapsed_s: float,
) -> dict[str, Any]:
    """Return run totals; means and flag rates cover scored items only.

    `failures` counts failed items by reason. `cost_usd` is an estimate for the calls this run
    made (cache hits are free); `cost_usd_with_cache_hits` prices every reply used.
    """
    failures = Counter(record["failure_reason"] for record in records if record["status"] == FAILED)
    billed_input = sum(usage.billed_input_tokens for usage in usages)
    billed_output = sum(usage.billed_output_tokens for usage in usages)
    all_input = sum(usage.input_tokens for usage in usages)
    all_output = sum(usage.output_tokens for usage in usages)

    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_task[record["task"]].append(record)

    return {
        "kind": "judge_summary",
        "judge": spec.text,
        "rubric": OPEN_ENDED.name,
        "rubric_version": OPEN_ENDED.version,
        "counts": {
            **_counts(records),
            "requests": sum(usage.requests for usage in usages),
            "cached_calls": sum(usage.cached_calls for usage in usages),
            "retries": sum(usage.retries for usage in usages),
            "repaired": sum(1 for record in records if record["repaired"]),
        },
        "failures": dict(sorted(failures.items())),
        "tokens": {
            "input": all_input,
            "output": all_output,
            "thinking": sum(usage.thinking_tokens for usage in usages),
        },
        "billed_tokens": {"input": billed_input, "output": billed_output},
        "prices_usd_per_million": (
            {"input": prices.input_per_million, "output": prices.output_per_million} if prices else None
        ),
        "cost_usd": estimate_cost(prices, billed_input, billed_output),
        "cost_usd_with_cache_hits": estimate_cost(prices, all_input, all_output),
        "means": _means(records),
        "flag_rates": _flag_rates(records),
        "by_task": {
            task: {**_counts(task_records), "means": _means(task_records)}
            for task, task_records in sorted(by_task.items())
        },
        "elapsed_s": round(elapsed_s, 3),
    }


def _counts(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    scored = sum(1 for record in records if record["status"] == OK)
    return {"items": len(records), "scored": scored, "failed": len(records) - scored}


def _means(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    scored = [record["scores"] for record in records if record["status"] == OK]
    return {name: (sum(scores[name] for scores in scored) / len(scored) if scored else None) for name in CRITERIA}


def _flag_rates(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    flagged = [record["flags"] for record in records if record["status"] == OK]
    return {name: (sum(flags[name] for flags in flagged) / len(flagged) if flagged else None) for name in FLAGS}
