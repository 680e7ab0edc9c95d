"""Append-only jsonl files (training logs, generation caches) that survive interruption.

Each record is written with one `write` call on a descriptor opened with O_APPEND, so a record
is either fully in the file or, after a crash mid-write, a truncated last line that
`read_jsonl` skips. Rewrites (dropping records after a resumed checkpoint) go through a
temporary file and `os.replace`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from culturebench.atomic_files import atomic_open

logger = logging.getLogger(__name__)


class JsonlAppender:
    """Append JSON records, one per line, to `path` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._descriptor: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: dict[str, Any]) -> None:
        if self._descriptor is None:
            raise ValueError(f"{self.path} is closed")
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        os.write(self._descriptor, line.encode("utf-8"))

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read the records of `path` (none when it is missing), skipping lines that do not parse."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s:%d is not valid JSON (an interrupted write?); skipping it", path, number)
    return records


def rewrite_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace the content of `path` with `records`, atomically."""
    with atomic_open(path, "w", encoding="utf-8", fsync=False) as output:
        for record in records:
            output.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
