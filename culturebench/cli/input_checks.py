"""Checks of command-line values that sub-commands run before they load a model.

This module is a helper, not a sub-command, so `COMMANDS` does not list it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.items import SPLITS


def check_split(split: str, option: str = "--split", extra: Iterable[str] = ()) -> None:
    """Raise when `split` is not an item split (`train`, `test`) or one of `extra`."""
    allowed = (*SPLITS, *extra)
    if split not in allowed:
        raise CultureBenchError(f"invalid {option} {split!r}: expected one of {', '.join(allowed)}")


def task_manager(include_path=None, metadata: dict | None = None):
    """Build an lm-eval `TaskManager` that also indexes culturebench's task folder.

    Indexing every task YAML takes seconds, so a command builds one and passes it on to lm-eval.
    """
    from culturebench import plugin

    plugin.install_import_hook()
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=plugin.with_task_dir(include_path), metadata=metadata)


def check_task_names(tasks: list[str], manager) -> None:
    """Raise when a name is neither a task, group or tag that `manager` indexed nor a task YAML file."""
    known = manager.all_tasks
    unknown = [name for name in tasks if not _is_known_task(name, known)]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            hints.append(f"{name!r} is close to {', '.join(close)}")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise CultureBenchError(
        f"unknown lm-eval task {', '.join(repr(name) for name in unknown)}{hint}; `lm_eval ls tasks` lists the "
        "names, and culturebench's tasks start with culture_ (e.g. culture_all)"
    )


def _is_known_task(name: str, known: list[str]) -> bool:
    # lm-eval's TaskManager.load also takes the path of a task YAML file in place of a name.
    return name in known or (name.endswith((".yaml", ".yml")) and Path(name).is_file())
