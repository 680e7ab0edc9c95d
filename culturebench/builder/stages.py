"""Stage outputs on disk: records, kept and dropped counts, and the fingerprint that decides reuse.

Stage N writes `stages/NN-<name>.jsonl` (one record per line) and then
`stages/NN-<name>.report.json`, each through a temporary file and `os.replace`. The report
contains the stage's fingerprint, a hash of its settings, prompt versions and the output of the
stage before it. A stage whose report has the same fingerprint, and whose records file still
has the hash the report names, is reused instead of run again. A run killed inside a stage
leaves no report for it, so the stage runs again, and the reply cache makes that cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from culturebench.atomic_files import atomic_open

logger = logging.getLogger(__name__)

STAGES_FOLDER = "stages"


@dataclass(frozen=True)
class Drop:
    """One thing a stage removed: which (`key`, e.g. `food-01/english/canada`), why and the details."""

    key: str
    reason: str
    detail: str = ""


@dataclass
class StageOutput:
    """A stage's kept records, its drops and the generator calls it made."""

    records: list[dict[str, Any]]
    drops: list[Drop] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


def fingerprint(name: str, version: str, settings: dict[str, Any], input_hash: str) -> str:
    """Return the SHA-256 of everything that determines a stage's output."""
    payload = json.dumps(
        {"stage": name, "version": version, "settings": settings, "input": input_hash},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class StageStore:
    """The `stages/` folder of one build."""

    def __init__(self, out: Path) -> None:
        self.folder = Path(out) / STAGES_FOLDER

    def records_path(self, number: int, name: str) -> Path:
        return self.folder / f"{number:02d}-{name}.jsonl"

    def report_path(self, number: int, name: str) -> Path:
        return self.folder / f"{number:02d}-{name}.report.json"

    def load(self, number: int, name: str, stage_fingerprint: str) -> tuple[StageOutput, dict[str, Any]] | None:
        """Return the stored output and report when they match `stage_fingerprint`, else None."""
        report_path = self.report_path(number, name)
        records_path = self.records_path(number, name)
        if not report_path.exists() or not records_path.exists():
            return None
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            logger.warning("ignoring unreadable stage report %s: %s", report_path, error)
            return None
        if report.get("fingerprint") != stage_fingerprint:
            return None
        payload = records_path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != report.get("output_sha256"):
            logger.warning("stage %s: %s changed since its report was written; running the stage again", name, records_path)
            return None
        records = [json.loads(line) for line in payload.decode("utf-8").splitlines() if line.strip()]
        drops = [Drop(**drop) for drop in report.get("drops", [])]
        return StageOutput(records, drops, report.get("usage", {})), report

    def save(self, number: int, name: str, stage_fingerprint: str, output: StageOutput) -> dict[str, Any]:
        """Write the records, then the report; return the report."""
        payload = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in output.records)
        data = payload.encode("utf-8")
        write_atomic(self.records_path(number, name), data)
        report = {
            "stage": name,
            "number": number,
            "fingerprint": stage_fingerprint,
            "output_sha256": hashlib.sha256(data).hexdigest(),
            "kept": len(output.records),
            "dropped": len(output.drops),
            "dropped_by_reason": dict(sorted(Counter(drop.reason for drop in output.drops).items())),
            "drops": [asdict(drop) for drop in output.drops],
            "usage": output.usage,
            "finished": time.time(),
        }
        write_atomic(self.report_path(number, name), (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        return report


def output_hash(report: dict[str, Any]) -> str:
    """Return the hash of a stage's records file, the input of the next stage's fingerprint."""
    return str(report["output_sha256"])


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and `os.replace`."""
    with atomic_open(path, "wb", fsync=False) as handle:
        handle.write(data)
