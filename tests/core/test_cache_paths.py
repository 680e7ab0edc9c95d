"""The shared cache folder: CULTUREBENCH_CACHE, its deprecated alias and the per-cache sub-folders."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from culturebench import cache_paths, model_cache
from culturebench.builder import generator
from culturebench.judges import cache as judge_cache
from culturebench.model_presets import PRESETS


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(cache_paths.CACHE_ENV, raising=False)
    monkeypatch.delenv(cache_paths.DEPRECATED_CACHE_ENV, raising=False)
    monkeypatch.setattr(cache_paths, "_deprecation_logged", False)
    return monkeypatch


def test_every_cache_under_one_folder(tmp_path, clean_env):
    clean_env.setenv("CULTUREBENCH_CACHE", str(tmp_path))
    assert cache_paths.cache_dir() == tmp_path
    assert model_cache.cache_dir() == tmp_path
    assert model_cache.model_cache_path(PRESETS["default"]) == tmp_path / "models" / "default"
    assert judge_cache.default_cache_dir() == tmp_path / "judges"
    assert generator.default_cache_dir() == tmp_path / "builder"


def test_deprecated_alias_used_with_warning(tmp_path, clean_env, caplog):
    clean_env.setenv("CULTUREBENCH_CACHE_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="culturebench.cache_paths"):
        assert judge_cache.default_cache_dir() == tmp_path / "judges"
        assert generator.default_cache_dir() == tmp_path / "builder"
        assert model_cache.model_cache_path(PRESETS["smollm2"]) == tmp_path / "models" / "smollm2"
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CULTUREBENCH_CACHE_DIR is deprecated" in warnings[0].getMessage()
    assert f"CULTUREBENCH_CACHE={tmp_path}" in warnings[0].getMessage()


def test_new_variable_wins_over_alias(tmp_path, clean_env, caplog):
    clean_env.setenv("CULTUREBENCH_CACHE", str(tmp_path / "new"))
    clean_env.setenv("CULTUREBENCH_CACHE_DIR", str(tmp_path / "old"))
    with caplog.at_level(logging.WARNING, logger="culturebench.cache_paths"):
        assert judge_cache.default_cache_dir() == tmp_path / "new" / "judges"
    assert caplog.records == []


def test_default_is_user_cache_folder(clean_env):
    import platformdirs

    root = Path(platformdirs.user_cache_dir("culturebench"))
    assert cache_paths.cache_dir() == root
    assert judge_cache.default_cache_dir() == root / "judges"
    assert generator.default_cache_dir() == root / "builder"
