"""Format a finished run as plain text: what each stage did and one table row per evaluated setting."""

from __future__ import annotations

from typing import Any

from culturebench.pipeline.plan import BASELINE
from culturebench.pipeline.runner import RunReport

COLUMNS = ("setting", "method", "trained on", "λ", "acc loc", "acc nonloc", "RCA", "PNLG", "ΔRCA")


def format_report(report: RunReport) -> str:
    """Return the stage lines, the results table and the path of the leaderboard."""
    lines = [f"run directory: {report.run_dir}"]
    for number, stage in enumerate(report.stages, start=1):
        lines.append(f"  stage {number} {stage.name:<9} {_stage_status(stage)}")
    lines.append("")
    lines.append(format_table(report.metrics))
    lines.append("")
    lines.append("acc: accuracy on the test split with 95% bootstrap CI; RCA: harmonic mean of the two accuracies "
                 "(higher is better); PNLG: relative gap between them (lower is better); ΔRCA: change from baseline.")
    lines.append(f"leaderboard: {report.index}")
    lines.append(f"finished in {report.seconds:.0f} s")
    return "\n".join(lines)


def _stage_status(stage) -> str:
    if stage.skipped:
        return f"skipped: {stage.note}"
    parts = [stage.status]
    if stage.computed or stage.reused:
        parts.append(f"({len(stage.computed)} computed, {len(stage.reused)} reused)")
    parts.append(f"{stage.seconds:.1f} s")
    return " ".join(parts)


def format_table(document: dict[str, Any]) -> str:
    """Return the per-setting metrics of `metrics.json` as an aligned text table."""
    rows = [COLUMNS]
    judged = any("judge" in values for values in document.get("settings", {}).values())
    if judged:
        rows[0] = COLUMNS + ("judge loc", "judge nonloc")
    for name, values in document.get("settings", {}).items():
        delta = values.get("delta", {}).get("rca")
        row = (
            name,
            values["method"],
            values.get("setting") or "-",
            "-" if values.get("multiplier") is None else f"{values['multiplier']:g}",
            _with_ci(values["acc_localized"], values["acc_localized_ci"]),
            _with_ci(values["acc_nonlocalized"], values["acc_nonlocalized_ci"]),
            f"{values['rca']:.3f}",
            f"{values['pnlg']:.3f}",
            "-" if name == BASELINE or delta is None else f"{delta:+.3f}",
        )
        if judged:
            judge = values.get("judge") or {}
            row += (_score(judge.get("mean_localized")), _score(judge.get("mean_nonlocalized")))
        rows.append(row)
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _with_ci(value: float, interval: list[float]) -> str:
    return f"{value:.3f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
