"""Write result files atomically: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` so readers see the old file or the whole new one; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, value: Any) -> Path:
    """Write `value` as indented UTF-8 JSON (non-ASCII kept as is), atomically; return the path."""
    return write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """Check that `path` can be written as a file, and return it.

    `path` must not be a folder, and its nearest existing ancestor must be a writable folder
    (the writers create missing parents). Commands call this before slow work, so a bad path
    fails at once.

    Raises:
        CultureBenchError: naming `option` and the path.
    """
    from culturebench.errors import CultureBenchError

    path = Path(path)
    if path.is_dir():
        raise CultureBenchError(f"{option} {path} is an existing folder; give a file path instead")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CultureBenchError(f"cannot write {option} {path}: {ancestor} is a file, not a folder")
    # NOTE: os.access checks the real user id and not read-only mounts, and for root it
    # allows every folder, so a write can still fail later in those cases.
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CultureBenchError(f"cannot write {option} {path}: folder {ancestor} is not writable")
    return path
