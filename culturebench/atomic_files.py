"""Write result files atomically: a temporary file in the same folder, then a rename.

`tempfile.mkstemp` creates its file with mode 0600 and `tempfile.mkdtemp` its folder with
0700, and a rename keeps that mode. The helpers here give the finished file the mode
`open(path, "w")` would (0666 minus the umask) and a staged folder 0777 minus the umask, so
other users can read results exactly when they can read the user's other files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_PROC_STATUS = Path("/proc/self/status")


def current_umask() -> int:
    """Return the process umask without changing it where the OS allows.

    Linux 4.7 and later show the umask in /proc/self/status, which is read on each call
    because the umask can change while the process runs. Elsewhere the umask is read by
    setting it and restoring it at once. That briefly sets 0o077, so a file another thread
    creates in between is at worst private to its owner.
    """
    try:
        with _PROC_STATUS.open(encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    previous = os.umask(0o077)
    os.umask(previous)
    return previous


def new_file_mode() -> int:
    """Return the mode `open(path, "w")` gives a new file: 0o666 minus the umask."""
    return 0o666 & ~current_umask()


def new_folder_mode() -> int:
    """Return the mode `os.mkdir` gives a new folder: 0o777 minus the umask."""
    return 0o777 & ~current_umask()


@contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield an empty temporary file beside `path` for a writer that takes a file name.

    When the block ends without an exception, the temporary file gets `new_file_mode()`, is
    flushed to disk when `fsync` is true (so it also survives a power loss, not only a killed
    process), and is renamed onto `path`. Readers therefore see either the old file or the
    whole new one. On any exception the temporary file is deleted and `path` is left as it
    was. Missing parent folders are created. The temporary name is `.NAME.*.tmp`, which
    `culturebench run` removes after an interrupted run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        # Writers given the name open the file again, so the mode is set by name once they are done.
        os.chmod(temporary, new_file_mode())
        if fsync:
            _fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, encoding: str = "utf-8", newline: str | None = None,
                fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing and rename it onto `path` on success.

    `mode` is "w" (text in `encoding`, with `newline` as `open` takes it) or "wb" (bytes).
    The file is closed before the rename. Mode, fsync and clean-up are as in `atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path, fsync=fsync) as temporary:
        if mode == "wb":
            stream = temporary.open("wb")
        else:
            stream = temporary.open("w", encoding=encoding, newline=newline)
        with stream:
            yield stream


def staging_dir(target: str | Path) -> Path:
    """Create and return an empty hidden folder (`.NAME.*.tmp`) beside `target` to build it in.

    The folder gets `new_folder_mode()` instead of mkdtemp's 0700, so it keeps the usual mode
    once it is renamed to `target`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(folder, new_folder_mode())
    return folder


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` so readers see the old file or the whole new one; return the path."""
    with atomic_open(path, "w", encoding="utf-8", newline="\n", fsync=False) as stream:
        stream.write(text)
    return Path(path)


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
