"""Back-off with jitter and a retry budget shared by all requests of one run."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter, honouring the server's Retry-After.

    Args:
        base_s: the first wait before jitter; attempt n waits up to base_s * 2**n.
        max_s: upper bound of the exponential wait.
        max_retry_after_s: a Retry-After longer than this ends the request instead of waiting.
    """

    base_s: float = 1.0
    max_s: float = 60.0
    max_retry_after_s: float = 300.0

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Return the seconds to wait before retry number `attempt` (0 for the first retry)."""
        ceiling = min(self.max_s, self.base_s * 2**attempt)
        # "Equal jitter": at least half the exponential step, so waits still grow with attempts.
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            # Never earlier than the server asked; a little jitter stops clients retrying in lockstep.
            wait = max(wait, retry_after_s + random.uniform(0, 0.1 * retry_after_s + 0.05))
        return wait


class RetryBudget:
    """A count of retries that all requests of a run draw from; None means unlimited."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.used = 0

    def take(self) -> bool:
        """Spend one retry; return False when none are left."""
        if self.total is not None and self.used >= self.total:
            return False
        self.used += 1
        return True


def default_retry_budget(item_count: int) -> int:
    """Return the default budget: a fifth of the items, at least 20 retries."""
    return max(20, item_count // 5)
