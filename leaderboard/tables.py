"""Compute the leaderboard rows: accuracy, RCA and PNLG with bootstrap CIs, and the bias measures."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from culturebench import metrics
from culturebench.items import COUNTRY_LANGUAGE, LANGUAGE_COUNTRIES, WESTERN
from culturebench.leaderboard.lm_eval_output import Sample, TaskOutput
from culturebench.leaderboard.runs import Run

# culture_<language>[_<country>]_<loc|nonloc|both>[_ll|_oe]
TASK_NAME = re.compile(
    r"^culture_(?P<language>[a-z]+)(?:_(?P<country>[a-z]+))?_(?P<setting>loc|nonloc|both)(?:_(?P<format>ll|oe))?$"
)
LOCALIZED_NAMES = ("acc_localized", "acc_loc", "loc_acc")
NONLOCALIZED_NAMES = ("acc_nonlocalized", "acc_nonloc", "nonloc_acc")
# Column id, header, whether higher is better.
METRIC_COLUMNS = (("acc_loc", True), ("acc_nonloc", True), ("rca", True), ("pnlg", False))
FORMATS = ("mcq", "oe")


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap 95% CI; `ci` is None when there were no samples to resample."""

    value: float | None
    ci: tuple[float, float] | None = None


MISSING = Estimate(None)


@dataclass
class FormatMetrics:
    """Localized and non-localized scores of one format (MCQ or open-ended) and what they rest on.

    `failures` counts extraction failures for MCQ and judge failures for open-ended answers;
    `unjudged` counts open-ended answers that no judge scored.
    """

    acc_loc: Estimate = MISSING
    acc_nonloc: Estimate = MISSING
    rca: Estimate = MISSING
    pnlg: Estimate = MISSING
    n_loc: int = 0
    n_nonloc: int = 0
    failures: int = 0
    unjudged: int = 0
    source: str = "samples"

    def get(self, column: str) -> Estimate:
        return getattr(self, column)


@dataclass
class Row:
    """One run within one scope (a language or a country)."""

    run: Run
    scope: str
    language: str | None
    mcq: FormatMetrics | None
    oe: FormatMetrics | None
    best: set[str] = field(default_factory=set)

    def estimate(self, column: str) -> Estimate:
        """Return the estimate of a column id such as `mcq_rca`."""
        fmt, name = column.split("_", 1)
        metrics_of_format = self.mcq if fmt == "mcq" else self.oe
        return metrics_of_format.get(name) if metrics_of_format else MISSING


@dataclass
class BiasRow:
    """How often each country's option and the Western option were chosen, for one run and scope."""

    run: Run
    scope: str
    countries: tuple[str, ...]
    dominance: dict[str, float]
    n_nonlocalized: int
    western_loc: Estimate
    western_nonloc: Estimate
    n_loc: int
    no_option: int


class Calculator:
    """Compute rows for any scope, caching bootstrap results of identical sample sets."""

    def __init__(self, alpha: float = 1.0, seed: int = 0):
        self.alpha = alpha
        self.seed = seed
        self._cache: dict[tuple, FormatMetrics] = {}

    def rows(self, runs: list[Run], language: str | None = None, country: str | None = None) -> list[Row]:
        """Return a row per run with results in the scope, plus runs with no results that declare it.

        A run that produced no culture results at all (typically a failed one) declares its scope
        through `run.json`: `language`, or `country` (whose language group is then used).
        """
        rows = []
        for run in runs:
            samples = [sample for sample in run.samples() if _in_scope(sample, language, country)]
            mcq = self._mcq(samples) or self._aggregated(run.tasks, language, country)
            oe = self._open_ended(samples)
            if mcq or oe or (not has_culture_results(run) and _declares_scope(run, language, country)):
                scope = country or language or "all"
                row_language = language or COUNTRY_LANGUAGE.get(country or "")
                rows.append(Row(run=run, scope=scope, language=row_language, mcq=mcq, oe=oe))
        mark_best(rows)
        return rows

    def bias(self, runs: list[Run], language: str, country: str | None = None) -> list[BiasRow]:
        """Return dominance bias and Western preference per run for MCQ answers with a known choice."""
        countries = LANGUAGE_COUNTRIES.get(language, ())
        rows = []
        for run in runs:
            chosen = [
                sample
                for sample in run.samples()
                if not sample.open_ended and sample.chosen is not None and _in_scope(sample, language, country)
            ]
            localized = [sample for sample in chosen if sample.variant == "localized"]
            nonlocalized = [sample for sample in chosen if sample.variant == "nonlocalized"]
            if not chosen or not countries:
                continue
            choices = [sample.chosen_country for sample in nonlocalized]
            rows.append(
                BiasRow(
                    run=run,
                    scope=country or language,
                    countries=countries,
                    dominance=metrics.dominance_bias(choices, countries) if nonlocalized else {},
                    n_nonlocalized=len(nonlocalized),
                    western_loc=self._western(localized),
                    western_nonloc=self._western(nonlocalized),
                    n_loc=len(localized),
                    no_option=sum(1 for sample in chosen if sample.chosen_country is None),
                )
            )
        return rows

    def _mcq(self, samples: list[Sample]) -> FormatMetrics | None:
        scored = [s for s in samples if not s.open_ended and s.correct is not None and s.is_culture_item]
        if not scored:
            return None
        result = self._summary(
            [s.correct for s in scored if s.variant == "localized"],
            [s.correct for s in scored if s.variant == "nonlocalized"],
        )
        result.failures = sum(1 for s in scored if s.extraction_failed)
        return result

    def _open_ended(self, samples: list[Sample]) -> FormatMetrics | None:
        answers = [s for s in samples if s.open_ended and s.is_culture_item]
        if not answers:
            return None
        scores = [(s.variant, s.verdict.score) for s in answers if s.verdict and s.verdict.score is not None]
        result = self._summary(
            [score for variant, score in scores if variant == "localized"],
            [score for variant, score in scores if variant == "nonlocalized"],
        )
        result.failures = sum(1 for s in answers if s.verdict and s.verdict.score is None)
        result.unjudged = sum(1 for s in answers if s.verdict is None)
        return result

    def _summary(self, localized: list[float], nonlocalized: list[float]) -> FormatMetrics:
        key = (tuple(localized), tuple(nonlocalized))
        if key in self._cache:
            return dataclasses.replace(self._cache[key])
        result = FormatMetrics(n_loc=len(localized), n_nonloc=len(nonlocalized))
        if localized and nonlocalized:
            summary = metrics.setting_summary(localized, nonlocalized, alpha=self.alpha, seed=self.seed)
            result.acc_loc = Estimate(summary["acc_localized"], tuple(summary["acc_localized_ci"]))
            result.acc_nonloc = Estimate(summary["acc_nonlocalized"], tuple(summary["acc_nonlocalized_ci"]))
            result.rca = Estimate(summary["rca"], tuple(summary["rca_ci"]))
            result.pnlg = Estimate(summary["pnlg"], tuple(summary["pnlg_ci"]))
        elif localized:
            result.acc_loc = self._accuracy(localized)
        elif nonlocalized:
            result.acc_nonloc = self._accuracy(nonlocalized)
        self._cache[key] = result
        return result

    def _accuracy(self, values: list[float]) -> Estimate:
        ci = metrics.bootstrap_ci(values, seed=self.seed)
        return Estimate(metrics.accuracy(values), ci)

    def _western(self, samples: list[Sample]) -> Estimate:
        if not samples:
            return MISSING
        return self._accuracy([float(sample.chosen_country == WESTERN) for sample in samples])

    def _aggregated(
        self, tasks: dict[str, TaskOutput], language: str | None, country: str | None
    ) -> FormatMetrics | None:
        """Read aggregated lm-eval metrics of tasks that have no samples file (no CIs then)."""
        result = FormatMetrics(source="aggregate")
        found = False
        for output in tasks.values():
            match = TASK_NAME.match(output.task)
            if output.samples is not None or match is None or match["format"] == "oe":
                continue
            if (language and match["language"] != language) or match["country"] != country:
                continue
            setting = match["setting"]
            localized = _first_metric(output, LOCALIZED_NAMES) if setting == "both" else None
            nonlocalized = _first_metric(output, NONLOCALIZED_NAMES) if setting == "both" else None
            if setting == "loc":
                localized = output.metric("acc")
            if setting == "nonloc":
                nonlocalized = output.metric("acc")
            if localized is not None:
                result.acc_loc, found = Estimate(localized), True
            if nonlocalized is not None:
                result.acc_nonloc, found = Estimate(nonlocalized), True
            if setting == "both":
                rca, pnlg = output.metric("rca"), output.metric("pnlg")
                result.rca = Estimate(rca) if rca is not None else result.rca
                result.pnlg = Estimate(pnlg) if pnlg is not None else result.pnlg
        if result.acc_loc.value is not None and result.acc_nonloc.value is not None:
            if result.rca.value is None:
                result.rca = Estimate(metrics.rca(result.acc_loc.value, result.acc_nonloc.value))
            if result.pnlg.value is None:
                result.pnlg = Estimate(metrics.pnlg(result.acc_loc.value, result.acc_nonloc.value, alpha=self.alpha))
        return result if found else None


def mark_best(rows: list[Row]) -> None:
    """Mark, per column and per scope (language or country), the best value among runs with status ok."""
    for row in rows:
        row.best = set()
    for fmt in FORMATS:
        for name, higher_is_better in METRIC_COLUMNS:
            column = f"{fmt}_{name}"
            groups: dict[str, list[Row]] = {}
            for row in rows:
                if row.run.ok and row.estimate(column).value is not None:
                    groups.setdefault(row.scope, []).append(row)
            for group in groups.values():
                values = [row.estimate(column).value for row in group]
                target = max(values) if higher_is_better else min(values)
                for row in group:
                    if row.estimate(column).value == target:
                        row.best.add(column)


def languages_present(runs: list[Run]) -> list[str]:
    """Return the languages with results, known languages first in the benchmark's order."""
    found = set()
    for run in runs:
        found.update(sample.language for sample in run.samples() if sample.is_culture_item)
        for task in run.tasks:
            match = TASK_NAME.match(task)
            if match:
                found.add(match["language"])
    known = [language for language in LANGUAGE_COUNTRIES if language in found]
    return known + sorted(found - set(known))


def countries_present(runs: list[Run], language: str) -> list[str]:
    found = set()
    for run in runs:
        found.update(s.country for s in run.samples() if s.language == language and s.country)
        for task in run.tasks:
            match = TASK_NAME.match(task)
            if match and match["language"] == language and match["country"]:
                found.add(match["country"])
    known = [country for country in LANGUAGE_COUNTRIES.get(language, ()) if country in found]
    return known + sorted(found - set(known))


def _in_scope(sample: Sample, language: str | None, country: str | None) -> bool:
    if language is not None and sample.language != language:
        return False
    return country is None or sample.country == country


def declared_language(run: Run) -> str | None:
    """Return the language a run names in `run.json` (`language`, else its `country`'s group)."""
    language = run.manifest.get("language")
    if isinstance(language, str) and language:
        return language
    country = run.provenance.get("country")
    return COUNTRY_LANGUAGE.get(country or "")


def has_culture_results(run: Run) -> bool:
    """Return whether the run has culture samples or aggregated results of `culture_*` tasks."""
    if any(sample.is_culture_item for sample in run.samples()):
        return True
    return any(TASK_NAME.match(task) for task in run.tasks)


def _declares_scope(run: Run, language: str | None, country: str | None) -> bool:
    if country is not None:
        return run.provenance.get("country") == country
    return declared_language(run) == language


def _first_metric(output: TaskOutput, names: tuple[str, ...]) -> float | None:
    for name in names:
        value = output.metric(name)
        if value is not None:
            return value
    return None
