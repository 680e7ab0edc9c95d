"""Accuracy, RCA, PNLG and the bias measures reported for every evaluated setting.

RCA and PNLG follow the definitions in the YaPO paper; its printed formulas were lost in text
extraction, so the forms below are reconstructed from the prose definitions:

- RCA (robust cultural accuracy) is the harmonic mean of localized accuracy `A_l` and
  non-localized accuracy `A_n`: ``2·A_l·A_n / (A_l + A_n + eps)``. Higher is better.
- PNLG (performance-normalised localization gap) is ``|A_l − A_n| / ((A_l + A_n)/2 + eps)**alpha``.
  Lower is better; `alpha` = 1 by default.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

EPSILON = 1e-8


def accuracy(correct: Sequence[bool | float]) -> float:
    """Return the mean of per-item correctness (booleans or scores in [0, 1]); 0.0 for no items."""
    if len(correct) == 0:
        return 0.0
    return float(sum(float(value) for value in correct) / len(correct))


def rca(acc_loc: float, acc_nonloc: float, eps: float = EPSILON) -> float:
    """Return robust cultural accuracy, the harmonic mean of localized and non-localized accuracy."""
    _check_unit_interval("acc_loc", acc_loc)
    _check_unit_interval("acc_nonloc", acc_nonloc)
    return 2.0 * acc_loc * acc_nonloc / (acc_loc + acc_nonloc + eps)


def pnlg(acc_loc: float, acc_nonloc: float, alpha: float = 1.0, eps: float = EPSILON) -> float:
    """Return the performance-normalised localization gap (0 when both accuracies agree)."""
    _check_unit_interval("acc_loc", acc_loc)
    _check_unit_interval("acc_nonloc", acc_nonloc)
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    mean = (acc_loc + acc_nonloc) / 2.0
    return abs(acc_loc - acc_nonloc) / (mean + eps) ** alpha


def signed_gap(acc_loc: float, acc_nonloc: float) -> float:
    """Return `A_l − A_n`: positive when naming the country helps."""
    return acc_loc - acc_nonloc


def normalize_score(score: float, low: float = 1.0, high: float = 5.0) -> float:
    """Map a judge score on the scale [low, high] (default 1–5) to [0, 1]."""
    if high <= low:
        raise ValueError(f"score scale is empty: low={low}, high={high}")
    if not low <= score <= high:
        raise ValueError(f"score {score} is outside the scale [{low}, {high}]")
    return (score - low) / (high - low)


def dominance_bias(chosen_countries: Sequence[str | None], countries: Sequence[str]) -> dict[str, float]:
    """Return, per country, how often its option was chosen relative to the uniform rate.

    `chosen_countries` holds the country of each chosen option on non-localized prompts (None or
    "western" for other choices). A value of 1.0 means the country was chosen as often as a uniform
    choice among `countries` would predict; 2.0 means twice as often.
    """
    if not countries:
        raise ValueError("countries must not be empty")
    total = len(chosen_countries)
    counts = Counter(chosen_countries)
    uniform = 1.0 / len(countries)
    return {
        country: (counts.get(country, 0) / total) / uniform if total else 0.0 for country in countries
    }


def western_preference(chosen_is_western: Sequence[bool]) -> float:
    """Return the fraction of answers that picked the Western control option."""
    return accuracy(chosen_is_western)


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float] = accuracy,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval of `statistic` over `values` (seeded)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if len(values) == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    size = len(values)
    estimates = sorted(
        statistic([values[rng.randrange(size)] for _ in range(size)]) for _ in range(n_resamples)
    )
    tail = (1.0 - confidence) / 2.0
    low_index = int(tail * n_resamples)
    high_index = min(n_resamples - 1, int((1.0 - tail) * n_resamples))
    return (estimates[low_index], estimates[high_index])


def paired_bootstrap_ci(
    localized: Sequence[float],
    nonlocalized: Sequence[float],
    statistic: Callable[[float, float], float],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a bootstrap CI of a two-accuracy statistic such as `rca` or `pnlg`.

    The localized and non-localized samples are resampled independently because the two variants
    are separate item sets, not 1:1 pairs.
    """
    if len(localized) == 0 or len(nonlocalized) == 0:
        return (0.0, 0.0)
    rng = random.Random(seed)
    estimates = []
    for _ in range(n_resamples):
        loc = accuracy([localized[rng.randrange(len(localized))] for _ in localized])
        nonloc = accuracy([nonlocalized[rng.randrange(len(nonlocalized))] for _ in nonlocalized])
        estimates.append(statistic(loc, nonloc))
    estimates.sort()
    tail = (1.0 - confidence) / 2.0
    return (
        estimates[int(tail * n_resamples)],
        estimates[min(n_resamples - 1, int((1.0 - tail) * n_resamples))],
    )


def setting_summary(
    localized: Sequence[float], nonlocalized: Sequence[float], alpha: float = 1.0, seed: int = 0
) -> dict[str, float | list[float]]:
    """Return accuracy per variant, RCA, PNLG and signed gap with bootstrap 95% CIs."""
    acc_loc = accuracy(localized)
    acc_nonloc = accuracy(nonlocalized)
    return {
        "acc_localized": acc_loc,
        "acc_localized_ci": list(bootstrap_ci(localized, seed=seed)),
        "acc_nonlocalized": acc_nonloc,
        "acc_nonlocalized_ci": list(bootstrap_ci(nonlocalized, seed=seed)),
        "rca": rca(acc_loc, acc_nonloc),
        "rca_ci": list(paired_bootstrap_ci(localized, nonlocalized, rca, seed=seed)),
        "pnlg": pnlg(acc_loc, acc_nonloc, alpha=alpha),
        "pnlg_ci": list(
            paired_bootstrap_ci(
                localized, nonlocalized, lambda a, b: pnlg(a, b, alpha=alpha), seed=seed
            )
        ),
        "signed_gap": signed_gap(acc_loc, acc_nonloc),
        "n_localized": len(localized),
        "n_nonlocalized": len(nonlocalized),
    }


def _check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be an accuracy in [0, 1], got {value}")
