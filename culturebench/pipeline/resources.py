"""The model, tokenizer, SAE and lm-eval objects of a run, each loaded on first use and then shared.

A run whose every unit is up to date never touches them, so a re-run loads no weights. When
something does run, the model is loaded once and serves pair building, extraction, training and
every evaluation: `steered_hf` wraps the loaded model and swaps its hooks between settings.
"""

from __future__ import annotations

import logging
import time
from functools import cached_property

from culturebench.pipeline.plan import Plan

logger = logging.getLogger(__name__)


class Resources:
    """Lazily loaded objects shared by the stages of one run."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @cached_property
    def model_and_tokenizer(self):
        from culturebench.models import load_model

        started = time.perf_counter()
        model, tokenizer = load_model(self.plan.config.model, dtype=self.plan.config.dtype, device=self.plan.device)
        self.hooks_at_load = count_hooks(model)
        logger.info("loaded model %s in %.1f s", self.plan.config.model, time.perf_counter() - started)
        return model, tokenizer

    @property
    def model(self):
        return self.model_and_tokenizer[0]

    @property
    def tokenizer(self):
        return self.model_and_tokenizer[1]

    @cached_property
    def sae_and_source(self):
        """Return `(sae, SAESource)` for SAS and YaPO, checked against the model and layer."""
        from culturebench.steering.layers import find_decoder_layout
        from culturebench.steering.sae import check_sae_matches_model, load_sae

        sae_info = self.plan.sae
        if sae_info is None:
            raise RuntimeError("the plan has no SAE; SAS and YaPO were not requested")
        sae, source = load_sae(sae_info.spec, device=str(next(self.model.parameters()).device))
        check_sae_matches_model(source, find_decoder_layout(self.model), self.plan.layer)
        return sae, source

    @cached_property
    def lm(self):
        """The `steered_hf` lm-eval model wrapping the loaded model (unsteered until vectors are loaded)."""
        from culturebench.steering.lm_eval_model import SteeredHFLM

        config = self.plan.config
        return SteeredHFLM(
            pretrained=self.model,
            tokenizer=self.tokenizer,
            positions=config.positions,
            batch_size=config.eval.batch_size,
        )

    @cached_property
    def task_manager(self):
        from lm_eval.tasks import TaskManager

        from culturebench import plugin

        from culturebench.tasks.docs import DATA_KEY, SPLIT_KEY

        plugin.install_import_hook()
        metadata = {SPLIT_KEY: "test"}
        if self.plan.config.data:
            metadata[DATA_KEY] = self.plan.config.data
        return TaskManager(include_path=plugin.with_task_dir(None), metadata=metadata)

    def check_clean_model(self) -> None:
        """Raise when some stage left forward hooks on the shared model, which would steer the next evaluation."""
        extra = count_hooks(self.model) - self.hooks_at_load
        if extra:
            raise RuntimeError(f"{extra} forward hook(s) are still registered on the model after the previous step; "
                               "evaluating now would measure a steered model as another setting")

    def loaded(self, name: str) -> bool:
        """Return True when the resource `name` (e.g. `model_and_tokenizer`) was loaded."""
        return name in self.__dict__


def count_hooks(model) -> int:
    """Count the forward and forward-pre hooks registered on every module of `model`."""
    return sum(len(module._forward_hooks) + len(module._forward_pre_hooks) for module in model.modules())
