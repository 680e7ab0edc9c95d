"""Render the site's pages, plots and data file from the collected inputs."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from culturebench import __version__
from culturebench.leaderboard import plots
from culturebench.leaderboard.discover import Inputs
from culturebench.leaderboard.fields import STATUSES, country_name, language_name, slugify
from culturebench.leaderboard.provenance import FIELDS
from culturebench.leaderboard.runs import Run
from culturebench.leaderboard.tables import (
    Calculator,
    Estimate,
    FormatMetrics,
    Row,
    countries_present,
    declared_language,
    has_culture_results,
    languages_present,
)

logger = logging.getLogger(__name__)

N_RESAMPLES = 1000  # the default of culturebench.metrics' bootstrap functions


def render_site(inputs: Inputs, *, title: str, max_examples: int, alpha: float) -> dict[str, str]:
    """Return every file of the site as {relative path: text}; the same inputs give the same text."""
    renderer = _Renderer(inputs, title)
    calculator = Calculator(alpha=alpha)
    runs = inputs.runs
    languages = languages_present(runs)
    renderer.languages = languages
    files: dict[str, str] = {}

    overview: list[Row] = []
    for language in languages:
        overview.extend(calculator.rows(runs, language=language))
    overview.extend(_rows_without_scope(runs, languages))

    global_plots = _global_plots(inputs)
    all_plots = list(global_plots)
    files["index.html"] = renderer.page(
        "index.html.j2", "index", "Overview", rows=overview, plots=global_plots, problems=inputs.problems,
        status_counts=_status_counts(runs),
    )

    for language in languages:
        countries = countries_present(runs, language)
        country_rows = []
        for country in countries:
            rows = calculator.rows(runs, language=language, country=country)
            country_rows.extend(rows)
            bias_rows = calculator.bias(runs, language, country)
            bias_plots = _bias_plots(f"country-{slugify(country)}", country_name(country), bias_rows)
            all_plots.extend(bias_plots)
            files[f"country-{slugify(country)}.html"] = renderer.page(
                "country.html.j2", f"country-{country}", country_name(country), country=country,
                language=language, rows=rows, bias_rows=bias_rows, bias_plots=bias_plots,
            )
        bias_rows = calculator.bias(runs, language)
        bias_plots = _bias_plots(f"language-{slugify(language)}", language_name(language), bias_rows)
        all_plots.extend(bias_plots)
        files[f"language-{slugify(language)}.html"] = renderer.page(
            "language.html.j2", f"language-{language}", language_name(language), language=language,
            countries=countries, rows=calculator.rows(runs, language=language), country_rows=country_rows,
            bias_rows=bias_rows, bias_plots=bias_plots,
        )

    files["runs.html"] = renderer.page("runs.html.j2", "runs", "Runs")
    for run in runs:
        files[f"run-{run.key}.html"] = renderer.page(
            "run.html.j2", "run", run.label, run=run, provenance_fields=FIELDS,
            examples=_examples(run, max_examples), max_examples=max_examples,
        )

    for plot in all_plots:
        files[f"plots/{plot.name}"] = plot.svg
    files["leaderboard.json"] = _data_file(overview, runs)
    return files


class _Renderer:
    """Holds the jinja2 environment and the values every page shows."""

    def __init__(self, inputs: Inputs, title: str):
        self.inputs = inputs
        self.title = title
        self.languages: list[str] = []
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader("culturebench.leaderboard", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters.update(
            percent=lambda value: f"{value * 100:.1f}",
            ratio=lambda value: f"{value:.3f}",
            language_name=language_name,
            country_name=country_name,
            language_page=lambda language: f"language-{slugify(language)}.html",
            country_page=lambda country: f"country-{slugify(country)}.html",
            relative=_relative,
            run_directory=lambda run: _relative(run.directory, run),
        )
        static = resources.files("culturebench.leaderboard") / "static"
        self.css = static.joinpath("site.css").read_text(encoding="utf-8")
        self.js = static.joinpath("site.js").read_text(encoding="utf-8")
        # Only this page's own inline style and script may run, so injected markup could not
        # execute even if escaping were bypassed.
        self.csp = (
            "default-src 'none'; img-src 'self'; "
            f"style-src '{_sha256(self.css)}'; script-src '{_sha256(self.js)}'; "
            "base-uri 'none'; form-action 'none'"
        )

    def page(self, template: str, page: str, page_title: str, **context: Any) -> str:
        return self.environment.get_template(template).render(
            site_title=self.title,
            page=page,
            page_title=page_title,
            languages=self.languages,
            runs=self.inputs.runs,
            version=__version__,
            date_range=_date_range(self.inputs.runs),
            n_resamples=N_RESAMPLES,
            css=Markup(self.css),
            js=Markup(self.js),
            csp=Markup(self.csp),
            **context,
        )


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _relative(path: Path, run: Run) -> str:
    try:
        return str(Path(run.root.name) / path.relative_to(run.root))
    except ValueError:
        return str(path)


def _rows_without_scope(runs: list[Run], languages: list[str]) -> list[Row]:
    """Rows for runs with no culture results and no declared language among those shown."""
    rows = []
    for run in runs:
        if not has_culture_results(run) and declared_language(run) not in languages:
            rows.append(Row(run=run, scope="all", language=declared_language(run), mcq=None, oe=None))
    return rows


def _status_counts(runs: list[Run]) -> list[str]:
    counts = Counter(run.status for run in runs)
    ordered = [status for status in STATUSES if status in counts]
    ordered += sorted(status for status in counts if status not in STATUSES)
    return [f"{counts[status]} {status}" for status in ordered]


def _date_range(runs: list[Run]) -> str | None:
    dates = sorted(run.provenance["date"][:10] for run in runs if run.provenance.get("date"))
    if not dates:
        return None
    return dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"


def _global_plots(inputs: Inputs) -> list[plots.Plot]:
    analyses = inputs.analyses
    candidates = [plots.training_loss(analyses.training_logs), plots.activation_patching(analyses.patching)]
    for index, (path, points) in enumerate(analyses.sweeps, start=1):
        title = f"Accuracy vs multiplier ({path.stem})"
        candidates.append(plots.multiplier_sweep(f"multiplier-sweep-{index}.svg", title, points))
    for index, (path, comparisons) in enumerate(analyses.comparisons, start=1):
        title = f"MMLU and behaviour deltas ({path.stem})"
        candidates.append(plots.generalisation(f"generalisation-{index}.svg", title, comparisons))
    return [plot for plot in candidates if plot is not None]


def _bias_plots(prefix: str, scope_label: str, bias_rows: list) -> list[plots.Plot]:
    candidates = [
        plots.dominance(f"{prefix}-dominance.svg", scope_label, bias_rows),
        plots.western_preference(f"{prefix}-western.svg", scope_label, bias_rows),
    ]
    return [plot for plot in candidates if plot is not None]


def _examples(run: Run, limit: int) -> list[tuple[str, list, int]]:
    examples = []
    for task, output in run.tasks.items():
        if output.samples:
            examples.append((task, output.samples[:limit], len(output.samples)))
    return examples


def _data_file(rows: list[Row], runs: list[Run]) -> str:
    """Return `leaderboard.json`: the overview rows and each run's provenance, for machines and diffs."""

    def estimate(value: Estimate) -> dict[str, Any]:
        ci = [round(bound, 6) for bound in value.ci] if value.ci else None
        return {"value": None if value.value is None else round(value.value, 6), "ci95": ci}

    def block(format_metrics: FormatMetrics | None) -> dict[str, Any] | None:
        if format_metrics is None:
            return None
        return {
            "acc_localized": estimate(format_metrics.acc_loc),
            "acc_nonlocalized": estimate(format_metrics.acc_nonloc),
            "rca": estimate(format_metrics.rca),
            "pnlg": estimate(format_metrics.pnlg),
            "n_localized": format_metrics.n_loc,
            "n_nonlocalized": format_metrics.n_nonloc,
            "failures": format_metrics.failures,
            "unjudged": format_metrics.unjudged,
            "source": format_metrics.source,
        }

    data = {
        "culturebench_version": __version__,
        "rows": [
            {
                "run": row.run.key,
                "language": row.language,
                "status": row.run.status,
                "best": sorted(row.best),
                "mcq": block(row.mcq),
                "open_ended": block(row.oe),
            }
            for row in rows
        ],
        "runs": [
            {
                "key": run.key,
                "label": run.label,
                "status": run.status,
                "notes": run.notes,
                "provenance": run.provenance,
            }
            for run in runs
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
