"""Shared pytest fixtures: tiny random models, the bundled benchmark and the shared test data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import tiny_models

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real public data for tests lives beside the repository; the product never reads it.
SHARED_DATA = Path(os.environ.get("CULTUREBENCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return tiny_models.build_tokenizer()


@pytest.fixture(scope="session")
def tiny_chat_tokenizer():
    return tiny_models.build_tokenizer(chat_template=True)


@pytest.fixture(params=sorted(tiny_models.ARCHITECTURES))
def tiny_model(request):
    """A tiny random model of each supported architecture (the test runs once per architecture)."""
    return tiny_models.build_model(request.param)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny Gemma 2 model with tokenizer, loadable with `pretrained=<dir>`."""
    return tiny_models.save_pretrained_dir(tmp_path_factory.mktemp("tiny-gemma2"), "gemma2")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}; set CULTUREBENCH_SHARED_DATA")
    return SHARED_DATA
