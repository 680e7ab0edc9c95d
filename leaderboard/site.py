"""Build the static leaderboard site: read result directories, render, and write files atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from culturebench.atomic_files import atomic_open
from culturebench.errors import CultureBenchError
from culturebench.leaderboard.discover import collect_inputs
from culturebench.leaderboard.pages import render_site

logger = logging.getLogger(__name__)

# Lists the files of the last build, so a rebuild removes pages that no longer exist and never
# touches a directory that culturebench did not write.
MARKER = ".culturebench-site"


@dataclass
class SiteSummary:
    """Result of one build: the index page, the files written, the run count and input problems."""

    index: Path
    files: list[str]
    runs: int
    problems: list[str]


def build_site(
    results: list[Path],
    out: Path,
    *,
    title: str = "culturebench leaderboard",
    max_examples: int = 20,
    alpha: float = 1.0,
    metric: str | None = None,
) -> SiteSummary:
    """Build the leaderboard site from result directories.

    Args:
        results: directories searched recursively for lm-eval output, judge results, training logs,
            analysis JSON and `run.json` manifests.
        out: the site directory; created if missing, and rewritten if it contains an earlier build.
        title: the site title.
        max_examples: how many answers per task the run pages show.
        alpha: the PNLG exponent.
        metric: the per-sample correctness key; None reads `acc`, then `exact_match`.

    Raises:
        CultureBenchError: a results directory is missing, nothing readable was found, or `out` is a
            non-empty directory that culturebench did not write.

    Example:
        build_site([Path("runs/study")], Path("site"))
    """
    if max_examples < 0:
        raise CultureBenchError(f"--max-examples must be >= 0, got {max_examples}")
    if alpha < 0:
        raise CultureBenchError(f"--alpha must be >= 0, got {alpha}")
    previous = _previous_build(out)
    inputs = collect_inputs(results, exclude=out, metric=metric)
    analyses = inputs.analyses
    if not inputs.runs and not (analyses.training_logs or analyses.patching or analyses.sweeps
                                or analyses.comparisons):
        roots = ", ".join(str(path) for path in results)
        raise CultureBenchError(
            f"no result files found under {roots}; expected lm-eval output (results_*.json), run.json, "
            "judge results, training logs or analysis JSON (see docs/leaderboard.md)"
        )

    files = render_site(inputs, title=title, max_examples=max_examples, alpha=alpha)
    _write(out, files, previous)
    logger.info("wrote %d files for %d runs to %s", len(files), len(inputs.runs), out)
    return SiteSummary(index=out / "index.html", files=sorted(files), runs=len(inputs.runs),
                       problems=inputs.problems)


def _previous_build(out: Path) -> set[str]:
    """Return the files of the previous build in `out`; raise if `out` contains anything else."""
    if not out.exists():
        return set()
    if not out.is_dir():
        raise CultureBenchError(f"--out {out} is a file; pass a directory for the site")
    marker = out / MARKER
    if marker.is_file():
        return {line for line in marker.read_text(encoding="utf-8").splitlines() if line}
    if any(out.iterdir()):
        raise CultureBenchError(
            f"--out {out} is not empty and was not written by culturebench leaderboard; "
            "pass an empty or new directory"
        )
    return set()


def _write(out: Path, files: dict[str, str], previous: set[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in sorted(files):
        _write_atomically(out / name, files[name])
    for name in sorted(previous - set(files)):
        stale = out / name
        # Names come from our own marker file, but never follow one outside the site.
        if stale.resolve().is_relative_to(out.resolve()) and stale.is_file():
            stale.unlink()
    _write_atomically(out / MARKER, "".join(f"{name}\n" for name in sorted(files)))


def _write_atomically(path: Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n", fsync=False) as stream:
        stream.write(text)
