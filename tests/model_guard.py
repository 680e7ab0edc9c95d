"""A fixture that fails a test when anything loads model weights."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_model_loading(monkeypatch):
    """Make `load_model` and `AutoModelForCausalLM.from_pretrained` raise, so an input check must fail first."""
    import transformers

    from culturebench import models

    def fail(*args, **kwargs):
        raise AssertionError("a model was loaded before the input checks ran")

    monkeypatch.setattr(models, "load_model", fail)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fail)
