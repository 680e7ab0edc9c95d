"""SVG plots: deterministic bytes and labels that matplotlib would otherwise misread."""

from __future__ import annotations

from pathlib import Path

from culturebench.leaderboard import plots
from culturebench.leaderboard.analyses import SweepPoint, TrainingLog


def _log(method: str) -> TrainingLog:
    return TrainingLog(path=Path(f"{method}.jsonl"), method=method, country="morocco", setting="both",
                       train=[(0, 0.69), (10, 0.4), (20, 0.2)], eval=[(10, 0.45)])


def test_same_data_same_svg():
    first = plots.training_loss([_log("yapo"), _log("bipo")])
    second = plots.training_loss([_log("yapo"), _log("bipo")])

    assert first.svg == second.svg
    assert "<dc:date>" not in first.svg
    assert "bipo morocco both (train)" in first.svg


def test_plain_labels_survive():
    points = [SweepPoint(method="$x$ <b>", setting=None, country=None, variant=None, multiplier=m, accuracy=0.5)
              for m in (0.0, 1.0)]
    plot = plots.multiplier_sweep("sweep.svg", "title", points)

    assert "$x$ &lt;b&gt;" in plot.svg
    assert "<b>" not in plot.svg


def test_empty_inputs_give_no_plot():
    assert plots.training_loss([]) is None
    assert plots.activation_patching([]) is None
    assert plots.multiplier_sweep("s.svg", "t", []) is None
    assert plots.generalisation("g.svg", "t", []) is None
    assert plots.dominance("d.svg", "Arabic", []) is None
    assert plots.western_preference("w.svg", "Arabic", []) is None


def test_leading_underscore_label_kept():
    assert plots.plain("_hidden") == "\u200b_hidden"
    assert plots.plain("cost $5") == r"cost \$5"
