"""Estimated judge cost from token counts and list prices."""

from __future__ import annotations

from dataclasses import dataclass

from culturebench.judges.spec import JudgeSpec

# USD per million input and output tokens, standard (non-batch) tier. NOTE: list prices as the
# maintainers knew them in 2025, never checked against the live pricing pages; pass explicit
# prices to `estimate_cost` (or --price-input/--price-output) for a bill you rely on.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
}


@dataclass(frozen=True)
class Prices:
    """USD per million input and output tokens."""

    input_per_million: float
    output_per_million: float


def prices_for(spec: JudgeSpec, override: Prices | None = None) -> Prices | None:
    """Return the prices for a judge: the override, the table entry or None when unknown.

    Local `hf:` judges cost nothing; a model matches the longest table name it starts with, so
    dated snapshots such as `gpt-4o-mini-2024-07-18` find their family.
    """
    if override is not None:
        return override
    if spec.backend == "hf":
        return Prices(0.0, 0.0)
    if spec.backend == "openai-compatible":
        return None
    model = spec.model.removeprefix("models/")
    names = sorted((name for name in PRICES_PER_MILLION if model.startswith(name)), key=len, reverse=True)
    if not names:
        return None
    return Prices(*PRICES_PER_MILLION[names[0]])


def estimate_cost(prices: Prices | None, input_tokens: int, output_tokens: int) -> float | None:
    """Return the estimated cost in USD, or None when the prices are unknown."""
    if prices is None:
        return None
    return (input_tokens * prices.input_per_million + output_tokens * prices.output_per_million) / 1_000_000
