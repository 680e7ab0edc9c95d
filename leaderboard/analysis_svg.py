"""Draw one analysis JSON document as a standalone SVG, with the same plot the site shows for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from culturebench.atomic_files import write_text_atomic
from culturebench.errors import CultureBenchError
from culturebench.leaderboard import plots
from culturebench.leaderboard.analyses import Analyses, add_analysis, analysis_kind


def analysis_plot(data: dict[str, Any], path: Path, title: str | None = None) -> plots.Plot | None:
    """Return the plot of an `activation_patching`, `multiplier_sweep` or `generalisation` document.

    Returns None when the document contains nothing to draw (no layers, points or comparisons).

    Raises:
        CultureBenchError: when `data` is none of the three analysis kinds.
    """
    kind = analysis_kind(data)
    if kind is None:
        raise CultureBenchError(
            f"{path} is not an analysis document: expected kind activation_patching, multiplier_sweep or generalisation"
        )
    analyses = Analyses()
    add_analysis(analyses, path, data, kind)
    if kind == "activation_patching":
        return plots.activation_patching(analyses.patching)
    if kind == "multiplier_sweep":
        (_, points), = analyses.sweeps
        return plots.multiplier_sweep(path.with_suffix(".svg").name, title or "Multiplier sensitivity", points)
    (_, comparisons), = analyses.comparisons
    return plots.generalisation(path.with_suffix(".svg").name, title or "Steered minus baseline", comparisons)


def write_analysis_svg(data: dict[str, Any], path: str | Path, title: str | None = None) -> Path | None:
    """Write the plot of an analysis document to `path` atomically; return None when nothing was drawn."""
    path = Path(path)
    plot = analysis_plot(data, path, title)
    if plot is None:
        return None
    return write_text_atomic(path, plot.svg)
