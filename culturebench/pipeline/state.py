"""Content-hash bookkeeping that lets a run skip work whose inputs did not change.

Each unit of work (one pair file, one vector, one evaluation, ...) has a key: the SHA-256 of a
JSON document naming everything its output depends on (settings, hashes of input files, the
culturebench version and the unit's format version). When the unit finishes, its key and the
SHA-256 of every output file go to `state/<unit>.json` in the run directory. A later run skips
the unit when the stored key equals the new one and every output still has the stored hash, so
an interrupted run resumes at the first unfinished unit and an unchanged run does no work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from culturebench import __version__
# The pipeline stages import staging_dir and write_text_atomic from here.
from culturebench.atomic_files import staging_dir, write_text_atomic

logger = logging.getLogger(__name__)

STATE_DIR = "state"
# Bump when the layout of state records changes; every unit is then recomputed once.
STATE_FORMAT = 1


def hash_json(value: Any) -> str:
    """Return the SHA-256 of `value` serialised as canonical JSON (sorted keys, UTF-8)."""
    payload = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unit_key(kind: str, version: int, inputs: dict[str, Any]) -> str:
    """Return the key of a unit of kind `kind` whose output depends on `inputs`."""
    return hash_json({"kind": kind, "version": version, "culturebench": __version__, "inputs": inputs})


def files_under(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into the files below them (sorted); plain files are kept."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(child for child in path.rglob("*") if child.is_file()))
        else:
            files.append(path)
    return files


@dataclass
class UnitRecord:
    """The record `state/<unit>.json` keeps of a finished unit."""

    key: str
    outputs: dict[str, str]
    seconds: float
    info: dict[str, Any]


class RunState:
    """The state records of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.folder = run_dir / STATE_DIR

    def _path(self, unit: str) -> Path:
        return self.folder / f"{unit}.json"

    def read(self, unit: str) -> UnitRecord | None:
        """Return the record of `unit`, or None when it is missing or unreadable."""
        try:
            data = json.loads(self._path(unit).read_text(encoding="utf-8"))
            if data.get("format") != STATE_FORMAT:
                return None
            return UnitRecord(data["key"], dict(data["outputs"]), float(data["seconds"]), dict(data.get("info", {})))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def is_current(self, unit: str, key: str) -> bool:
        """Return True when `unit` finished with `key` and its outputs are unchanged on disk."""
        record = self.read(unit)
        if record is None or record.key != key or not record.outputs:
            return False
        for relative, digest in record.outputs.items():
            path = self.run_dir / relative
            if not path.is_file() or hash_file(path) != digest:
                logger.info("%s: output %s is missing or changed; recomputing", unit, relative)
                return False
        return True

    def record(self, unit: str, key: str, outputs: Iterable[Path], seconds: float, info: dict | None = None) -> None:
        """Store that `unit` finished with `key`, hashing its output files (folders are expanded)."""
        hashes = {
            path.relative_to(self.run_dir).as_posix(): hash_file(path)
            for path in files_under(outputs)
        }
        payload = {"format": STATE_FORMAT, "key": key, "outputs": hashes, "seconds": round(seconds, 3),
                   "info": info or {}, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_text_atomic(self._path(unit), json.dumps(payload, indent=2, ensure_ascii=False) + "\n")

    def output_hashes(self, unit: str) -> dict[str, str]:
        """Return the output hashes stored for `unit` (empty when it has no record)."""
        record = self.read(unit)
        return record.outputs if record else {}


def write_json_atomic(path: Path, value: Any) -> None:
    """Write `value` as indented UTF-8 JSON, atomically."""
    write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def replace_dir(staged: Path, target: Path) -> None:
    """Move the finished folder `staged` to `target`, replacing any older `target`.

    Each step is a rename, so `target` is either the old or the new complete folder. A crash
    between the two renames leaves the old folder under a hidden name, which `clean_staging` removes.
    """
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}.tmp")
        os.replace(target, retired)
        os.replace(staged, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staged, target)


def clean_staging(run_dir: Path) -> int:
    """Remove temporary files and folders (`.NAME.*.tmp`) left by an interrupted run; return the count."""
    if not run_dir.is_dir():
        return 0
    removed = 0
    for path in sorted(run_dir.rglob(".*.tmp"), key=lambda item: len(item.parts), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("removed %d temporary file(s) left by an interrupted run in %s", removed, run_dir)
    return removed
