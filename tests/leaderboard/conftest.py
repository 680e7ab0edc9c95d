"""Fixtures shared by the leaderboard tests: one written study and what was read from it."""

from __future__ import annotations

import pytest

from culturebench.leaderboard.discover import collect_inputs
from tests.leaderboard.study import write_study


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    return write_study(tmp_path_factory.mktemp("leaderboard-study") / "study")


@pytest.fixture(scope="session")
def inputs(study):
    return collect_inputs([study.root])


@pytest.fixture(scope="session")
def runs_by_key(inputs):
    return {run.key: run for run in inputs.runs}
