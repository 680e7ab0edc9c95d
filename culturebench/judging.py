"""The small interface through which task scoring reaches an LLM judge without importing judges/.

The `culturebench.judges` package implements `OptionJudge`; the lm-eval plugin registers its
factory with `set_option_judge_factory`, and task scoring calls `get_option_judge()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

JUDGE_ENV = "CULTUREBENCH_JUDGE"


class OptionJudge(Protocol):
    """Maps a free-form answer to the MCQ option it commits to."""

    def pick_option(self, question: str, options: Sequence[str], answer: str) -> int | None:
        """Return the 0-based index of the option the answer commits to, or None for no option."""
        ...


_factory: Callable[[str], OptionJudge] | None = None
_judges: dict[str, OptionJudge] = {}


def set_option_judge_factory(factory: Callable[[str], OptionJudge]) -> None:
    """Register the function that builds a judge from a spec string such as `openai:gpt-4o-mini`."""
    global _factory
    _factory = factory
    _judges.clear()


def get_option_judge(spec: str | None = None) -> OptionJudge | None:
    """Return the judge for `spec` (default: the `CULTUREBENCH_JUDGE` variable), or None if unset."""
    spec = spec if spec is not None else os.environ.get(JUDGE_ENV, "").strip()
    if not spec:
        return None
    if _factory is None:
        from culturebench.errors import CultureBenchError

        raise CultureBenchError(
            f"{JUDGE_ENV}={spec!r} is set but no judge backend is registered; "
            "import culturebench.plugin (done automatically by the lm_eval command) or unset it"
        )
    if spec not in _judges:
        _judges[spec] = _factory(spec)
    return _judges[spec]
