"""Draw the leaderboard's SVG plots with matplotlib, byte-identical for the same data."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from culturebench.leaderboard.analyses import Comparison, PatchingCurve, SweepPoint, TrainingLog
from culturebench.leaderboard.fields import country_name, method_label, method_rank
from culturebench.leaderboard.tables import BiasRow

# A fixed hash salt and no date make matplotlib's SVG output deterministic; text stays text.
RC_PARAMS = {
    "svg.hashsalt": "culturebench",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
SVG_METADATA = {"Date": None, "Creator": f"culturebench (matplotlib {matplotlib.__version__})"}
METHOD_COLORS = {"baseline": "#6b6b6b", "caa": "#1f77b4", "sas": "#ff7f0e", "bipo": "#2ca02c", "yapo": "#d62728"}
OTHER_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


PlotFunction = TypeVar("PlotFunction", bound=Callable[..., "Plot | None"])


def styled(function: PlotFunction) -> PlotFunction:
    """Run a plot function under `RC_PARAMS`, since matplotlib reads most of them when artists are made."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC_PARAMS):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Plot:
    """One SVG file of the site and the text shown with it."""

    name: str
    title: str
    description: str
    svg: str


def method_color(method: str | None, index: int = 0) -> str:
    name = (method or "").lower()
    if name in METHOD_COLORS:
        return METHOD_COLORS[name]
    return OTHER_COLORS[index % len(OTHER_COLORS)]


def plain(label: str) -> str:
    """Escape text for matplotlib: `$` would start mathtext and a leading `_` hides a legend entry."""
    label = label.replace("$", r"\$")
    return "\u200b" + label if label.startswith("_") else label


@styled
def training_loss(logs: list[TrainingLog]) -> Plot | None:
    """Loss against step, one colour per method; held-out loss dashed."""
    logs = [log for log in logs if log.train or log.eval]
    if not logs:
        return None
    figure, axes = _figure()
    for index, log in enumerate(logs):
        color = method_color(log.method, index)
        if log.train:
            steps, losses = zip(*log.train)
            axes.plot(steps, losses, color=color, linewidth=1.2, label=plain(f"{log.label} (train)"))
        if log.eval:
            steps, losses = zip(*log.eval)
            axes.plot(steps, losses, color=color, linewidth=1.2, linestyle="--", marker="o", markersize=2.5,
                      label=plain(f"{log.label} (eval)"))
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend(fontsize=7, frameon=False)
    methods = sorted({method_label(log.method) for log in logs})
    return Plot("training-loss.svg", "Training loss",
                f"Preference loss against training step for {', '.join(methods)}; dashed: held-out loss.",
                _svg(figure))


@styled
def multiplier_sweep(name: str, title: str, points: list[SweepPoint]) -> Plot | None:
    """Accuracy against multiplier, one line per method, setting, country and variant."""
    if not points:
        return None
    lines: dict[tuple, list[tuple[float, float]]] = {}
    for point in points:
        key = (method_rank(point.method), point.method, point.setting or "", point.country or "",
               point.variant or "")
        lines.setdefault(key, []).append((point.multiplier, point.accuracy))
    figure, axes = _figure()
    for index, (key, values) in enumerate(sorted(lines.items())):
        _, method, setting, country, variant = key
        values.sort()
        label = " ".join(part for part in (method_label(method), setting, country, variant) if part)
        axes.plot([v[0] for v in values], [v[1] for v in values], marker="o", markersize=3,
                  color=method_color(method, index), label=plain(label))
    axes.set_xlabel("multiplier λ")
    axes.set_ylabel("accuracy")
    axes.set_ylim(-0.02, 1.02)
    axes.legend(fontsize=7, frameon=False)
    return Plot(name, title, "Accuracy against steering multiplier, one line per method.", _svg(figure))


@styled
def activation_patching(curves: list[PatchingCurve]) -> Plot | None:
    """Per-layer change in the probability of the correct option (solid) and the Western option (dotted)."""
    curves = [curve for curve in curves if curve.layers]
    if not curves:
        return None
    figure, axes = _figure()
    for index, curve in enumerate(curves):
        color = OTHER_COLORS[index % len(OTHER_COLORS)]
        correct = [(layer, value) for layer, value in zip(curve.layers, curve.delta_correct) if value is not None]
        western = [(layer, value) for layer, value in zip(curve.layers, curve.delta_western) if value is not None]
        if correct:
            axes.plot(*zip(*correct), color=color, marker="o", markersize=3,
                      label=plain(f"{curve.label}: correct option"))
        bands = [(layer, ci) for layer, ci in zip(curve.layers, curve.correct_ci) if ci is not None]
        if bands:
            axes.fill_between([layer for layer, _ in bands], [ci[0] for _, ci in bands], [ci[1] for _, ci in bands],
                              color=color, alpha=0.15, linewidth=0)
        if western:
            axes.plot(*zip(*western), color=color, linestyle=":", marker="x", markersize=3,
                      label=plain(f"{curve.label}: Western option"))
    axes.axhline(0.0, color="black", linewidth=0.6)
    axes.set_xlabel("patched layer")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("Δ probability")
    axes.legend(fontsize=7, frameon=False)
    return Plot("activation-patching.svg", "Activation patching",
                "Change in the probability of the culturally correct option when the localized prompt's "
                "last-token state replaces the non-localized one at each layer (shaded: 95% CI where given).",
                _svg(figure))


@styled
def generalisation(name: str, title: str, comparisons: list[Comparison]) -> Plot | None:
    """Steered minus baseline per task, one bar per method, with the CI as an error bar."""
    if not comparisons:
        return None
    tasks = sorted({c.task for c in comparisons})
    methods = sorted({c.method for c in comparisons}, key=method_rank)
    figure, axes = _figure(height=max(2.4, 0.45 * len(tasks) * max(1, len(methods)) ** 0.5 + 1.2))
    width = 0.8 / len(methods)
    for method_index, method in enumerate(methods):
        positions, deltas, errors = [], [], [[], []]
        for task_index, task in enumerate(tasks):
            match = next((c for c in comparisons if c.task == task and c.method == method), None)
            if match is None:
                continue
            positions.append(task_index + method_index * width - 0.4 + width / 2)
            deltas.append(match.delta)
            low, high = match.ci if match.ci else (match.delta, match.delta)
            errors[0].append(max(0.0, match.delta - low))
            errors[1].append(max(0.0, high - match.delta))
        axes.barh(positions, deltas, height=width, xerr=errors, capsize=2,
                  color=method_color(method, method_index), label=plain(method_label(method)))
    axes.axvline(0.0, color="black", linewidth=0.6)
    axes.set_yticks(range(len(tasks)), [plain(task) for task in tasks])
    axes.invert_yaxis()
    axes.set_xlabel("steered − baseline")
    axes.legend(fontsize=7, frameon=False)
    return Plot(name, title, "Difference between the steered model and its unsteered baseline per task, "
                "with 95% CI where given.", _svg(figure))


@styled
def dominance(name: str, scope_label: str, rows: list[BiasRow]) -> Plot | None:
    """Grouped bars: each country's choice rate relative to uniform, one bar per run."""
    rows = [row for row in rows if row.dominance]
    if not rows:
        return None
    countries = rows[0].countries
    figure, axes = _figure()
    width = 0.8 / len(rows)
    for index, row in enumerate(rows):
        positions = [i + index * width - 0.4 + width / 2 for i in range(len(countries))]
        axes.bar(positions, [row.dominance.get(c, 0.0) for c in countries], width=width,
                 color=method_color(row.run.method, index), label=plain(row.run.label))
    axes.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    axes.set_xticks(range(len(countries)), [plain(country_name(country)) for country in countries])
    axes.set_ylabel("chosen ÷ uniform rate")
    axes.legend(fontsize=7, frameon=False)
    return Plot(name, f"Dominance bias, {scope_label}",
                "On non-localized prompts, how often each country's option is chosen relative to a uniform "
                "choice (dashed line at 1).", _svg(figure))


@styled
def western_preference(name: str, scope_label: str, rows: list[BiasRow]) -> Plot | None:
    """Bars of the Western-option choice rate per run, localized and non-localized, with 95% CIs."""
    if not rows:
        return None
    figure, axes = _figure()
    labels = [plain(row.run.label) for row in rows]
    for offset, variant, hatch in ((-0.2, "localized", ""), (0.2, "nonlocalized", "//")):
        values, errors = [], [[], []]
        for row in rows:
            estimate = row.western_loc if variant == "localized" else row.western_nonloc
            value = estimate.value if estimate.value is not None else 0.0
            low, high = estimate.ci if estimate.ci else (value, value)
            values.append(value)
            errors[0].append(max(0.0, value - low))
            errors[1].append(max(0.0, high - value))
        axes.bar([i + offset for i in range(len(rows))], values, width=0.4, yerr=errors, capsize=2,
                 color=[method_color(row.run.method, i) for i, row in enumerate(rows)], hatch=hatch,
                 edgecolor="white", label=variant)
    axes.set_xticks(range(len(rows)), labels, rotation=20, ha="right")
    axes.set_ylabel("Western option chosen")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=7, frameon=False)
    return Plot(name, f"Western preference, {scope_label}",
                "Fraction of MCQ answers that chose the Western control option (hatched: non-localized).",
                _svg(figure))


def _figure(height: float = 3.4) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(6.4, height), layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    return buffer.getvalue()
