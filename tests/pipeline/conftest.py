"""Fixtures for pipeline tests: a saved tiny model and SAE, and a small run configuration on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from culturebench.pipeline.config import RunConfig, load_config
from tests.steering.sae_fixtures import build_sae

TINY_LAYER = 1


@pytest.fixture(scope="session")
def tiny_sae_dir(tmp_path_factory) -> Path:
    """A random TopK SAE (d_in 64) reading block 1 of the tiny model, saved in the sae-lens format."""
    folder = tmp_path_factory.mktemp("tiny-sae")
    build_sae("topk", layer=TINY_LAYER).save_model(str(folder))
    return folder


def tiny_config(model_dir: Path, sae_dir: Path, out: Path, *overrides: str) -> RunConfig:
    """Return a run configuration on the tiny model: one setting, few items, steps and documents."""
    return load_config(
        overrides=[
            f"model={model_dir}",
            f"sae={sae_dir}",
            "dtype=float32",
            "device=cpu",
            "settings=nonlocalized",
            "train_items=4",
            "train.steps=2",
            "train.warmup_steps=1",
            "train.eval_every=1",
            "eval.limit=4",
            "eval.batch_size=4",
            *overrides,
        ],
        out=out,
    )
