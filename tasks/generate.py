"""Generate the `culture_*` task and group files from the templates and the table.

Run `python -m culturebench.tasks.generate` after changing `tasks/table.py` or a template;
`--check` only reports files that differ from a fresh generation (exit status 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import jinja2

from culturebench.atomic_files import atomic_open
from culturebench.tasks.table import STOP_SEQUENCES, TASK_VERSION, group_rows, task_rows

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
OUTPUT_DIR = Path(__file__).resolve().parent / "culture"


def render_all() -> dict[str, str]:
    """Render every task and group file; return file name to content."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    task_template = environment.get_template("task.yaml.j2")
    group_template = environment.get_template("group.yaml.j2")

    files = {}
    for row in task_rows():
        files[f"{row.name}.yaml"] = task_template.render(
            row=row, stop_sequences=STOP_SEQUENCES, version=TASK_VERSION
        )
    for group in group_rows():
        files[f"{group.name}.yaml"] = group_template.render(group=group, version=TASK_VERSION)
    return files


def differences(output_dir: Path = OUTPUT_DIR) -> list[str]:
    """List the YAML files in `output_dir` that are missing, stale or not generated."""
    expected = render_all()
    present = {path.name for path in output_dir.glob("*.yaml")}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not generated: {name}" for name in sorted(present - set(expected))]
    for name in sorted(set(expected) & present):
        if (output_dir / name).read_text(encoding="utf-8") != expected[name]:
            problems.append(f"differs: {name}")
    return problems


def write_all(output_dir: Path = OUTPUT_DIR) -> int:
    """Write every generated file that changed and delete stale YAML files; return the change count."""
    expected = render_all()
    output_dir.mkdir(parents=True, exist_ok=True)
    changed = 0
    for stale in sorted(set(path.name for path in output_dir.glob("*.yaml")) - set(expected)):
        (output_dir / stale).unlink()
        changed += 1
    for name, content in expected.items():
        path = output_dir / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        _write_atomic(path, content)
        changed += 1
    return changed


def _write_atomic(path: Path, content: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n", fsync=False) as handle:
        handle.write(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences without writing")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR, help="folder of the task files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.check:
        problems = differences(args.output)
        for problem in problems:
            logger.info("%s", problem)
        return 1 if problems else 0
    changed = write_all(args.output)
    logger.info("%d of %d files changed in %s", changed, len(render_all()), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
