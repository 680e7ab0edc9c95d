import random

from culturebench.judges.backend import parse_retry_after
from culturebench.judges.retry import Backoff, RetryBudget, default_retry_budget


def test_backoff_grows_and_stays_capped():
    random.seed(0)
    backoff = Backoff(base_s=1.0, max_s=8.0)
    for attempt in range(6):
        ceiling = min(8.0, 2.0**attempt)
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling


def test_backoff_jitters():
    delays = {Backoff().delay(3) for _ in range(20)}
    assert len(delays) > 1


def test_backoff_waits_at_least_retry_after():
    backoff = Backoff(base_s=0.01)
    assert all(backoff.delay(0, retry_after_s=7.0) >= 7.0 for _ in range(50))
    assert all(backoff.delay(0, retry_after_s=7.0) <= 7.0 * 1.1 + 0.05 for _ in range(50))


def test_retry_budget_runs_out():
    budget = RetryBudget(2)
    assert [budget.take() for _ in range(3)] == [True, True, False]
    assert budget.used == 2


def test_unlimited_budget():
    budget = RetryBudget(None)
    assert all(budget.take() for _ in range(1000))


def test_default_budget_scales_with_items():
    assert default_retry_budget(10) == 20
    assert default_retry_budget(1000) == 200


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
