"""Read judge results: per-answer jsonl records and the summary JSON written by `culturebench judge`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturebench.leaderboard.fields import as_float, as_int, as_text
from culturebench.leaderboard.lm_eval_output import JudgeVerdict

logger = logging.getLogger(__name__)


@dataclass
class JudgeRecord:
    """One judged answer and the keys that join it to an lm-eval sample."""

    path: Path
    task: str | None
    doc_id: int | None
    samples_file: Path | None
    language: str | None
    country: str | None
    variant: str | None
    verdict: JudgeVerdict


def looks_like_judge_record(record: Any) -> bool:
    """Return True for a judge result line: it has `doc_id` and `judge` but no lm-eval `doc`."""
    return isinstance(record, dict) and "doc_id" in record and "judge" in record and "doc" not in record


def looks_like_judge_summary(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    return data.get("kind") == "judge_summary" or ("judge" in data and "counts" in data)


def read_judge_records(path: Path) -> tuple[list[JudgeRecord], int]:
    """Read a judge jsonl file; returns the records and the number of unreadable lines."""
    records = []
    unreadable = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                unreadable += 1
                continue
            if not looks_like_judge_record(raw):
                unreadable += 1
                continue
            records.append(_record(path, raw))
    if unreadable:
        logger.warning("%s: skipped %d unreadable judge line(s)", path, unreadable)
    return records, unreadable


def _record(path: Path, raw: dict[str, Any]) -> JudgeRecord:
    samples_file = as_text(raw.get("samples_file"))
    return JudgeRecord(
        path=path,
        task=as_text(raw.get("task")),
        doc_id=as_int(raw.get("doc_id")),
        samples_file=(path.parent / samples_file).resolve() if samples_file else None,
        language=as_text(raw.get("language")),
        country=as_text(raw.get("country")),
        variant=as_text(raw.get("variant")),
        verdict=_verdict(raw),
    )


def _verdict(raw: dict[str, Any]) -> JudgeVerdict:
    status = as_text(raw.get("status")) or "ok"
    reason = as_text(raw.get("failure_reason"))
    if status != "ok" and reason and reason != status:
        status = f"{status}: {reason}"
    scores = {}
    if isinstance(raw.get("scores"), dict):
        for name, value in sorted(raw["scores"].items()):
            number = as_float(value)
            if number is not None:
                scores[str(name)] = number
    flags = {}
    if isinstance(raw.get("flags"), dict):
        flags = {str(name): bool(value) for name, value in sorted(raw["flags"].items())}

    score = None
    if status == "ok":
        score = scores.get("overall")
        if score is None and scores:
            score = sum(scores.values()) / len(scores)
        if score is None:
            score = as_float(raw.get("score"))
        if score is None:
            status = "no score"
        elif not 0.0 <= score <= 1.0:
            status = f"score {score:g} outside [0, 1]"
            score = None
    return JudgeVerdict(
        judge=as_text(raw.get("judge")),
        status=status,
        score=score,
        scores=scores,
        flags=flags,
        rationale=as_text(raw.get("rationale")),
    )


def summarise_summary(data: dict[str, Any]) -> dict[str, Any]:
    """Return the displayable parts of a judge summary: judge, counts, failures, tokens and cost."""
    counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
    failures = data.get("failures") if isinstance(data.get("failures"), dict) else {}
    tokens = data.get("tokens")
    if isinstance(tokens, dict):
        tokens = json.dumps(tokens, sort_keys=True)
    return {
        "judge": as_text(data.get("judge")),
        "counts": {str(key): as_text(value) for key, value in sorted(counts.items())},
        "failures": {str(key): as_text(value) for key, value in sorted(failures.items())},
        "tokens": as_text(tokens),
        "cost_usd": as_text(data.get("cost_usd")),
    }
