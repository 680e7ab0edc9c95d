"""The work a run will do, resolved from its configuration: vectors to make and settings to evaluate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from culturebench.items import Dataset, Item
from culturebench.pipeline.config import RunConfig

EXTRACTED_METHODS = ("caa", "sas")
TRAINED_METHODS = ("bipo", "yapo")
SAE_METHODS = ("sas", "yapo")
# Protocol names of the lm-eval tasks and of the preference pairs for the same scoring.
PAIR_PROTOCOLS = {"ll": "cloze", "mcq": "boxed"}
BASELINE = "baseline"


@dataclass(frozen=True)
class VectorJob:
    """One steering vector the run makes: a method applied to one localization setting."""

    method: str
    country: str
    setting: str

    @property
    def name(self) -> str:
        return f"{self.method}-{self.country}-{self.setting}"

    @property
    def trained(self) -> bool:
        return self.method in TRAINED_METHODS

    @property
    def path(self) -> Path:
        """The vector file, relative to the run directory."""
        return Path("vectors") / f"{self.name}.safetensors"

    @property
    def log_path(self) -> Path:
        """The training log of a trained vector, relative to the run directory."""
        return Path("training") / f"{self.name}.jsonl"


@dataclass(frozen=True)
class EvalJob:
    """One evaluated setting: the unsteered baseline, a vector this run makes, or a given vector file."""

    name: str
    method: str
    setting: str | None
    country: str | None
    vector: Path | None = None  # absolute path; None for the baseline
    multiplier: float | None = None
    given: bool = False  # listed in eval.vectors rather than made by this run

    @property
    def folder(self) -> Path:
        """The evaluation folder (lm-eval output and run.json), relative to the run directory."""
        return Path("evals") / self.name


@dataclass
class ModelInfo:
    """Facts about the model read before its weights load: shape, chat template and identity."""

    spec: str
    model_id: str
    num_layers: int
    hidden_size: int
    chat_template: bool
    identity: dict[str, Any]


@dataclass
class SAEInfo:
    """The SAE for SAS and YaPO, read from its `cfg.json` (or only named, for hub releases)."""

    spec: str
    d_in: int | None
    d_sae: int | None
    layer: int | None
    identity: dict[str, Any]


@dataclass
class Plan:
    """A validated configuration with every derived value a stage needs."""

    config: RunConfig
    run_dir: Path
    language: str
    model: ModelInfo
    layer: int | None  # None when no vector is made (baseline and given vectors only)
    protocol: str
    device: str
    sae: SAEInfo | None
    dataset: Dataset
    data_identity: str
    tasks: list[str]
    open_tasks: list[str]
    vectors: list[VectorJob] = field(default_factory=list)
    evals: list[EvalJob] = field(default_factory=list)

    @property
    def pair_protocol(self) -> str:
        return PAIR_PROTOCOLS[self.protocol]

    def train_items(self, setting: str) -> list[Item]:
        """Return the train-split items of the run's country in `setting`, capped at `train_items`."""
        return self._items("train", setting, self.config.train_items)

    def test_items(self, setting: str) -> list[Item]:
        """Return the test-split items of the run's country in `setting` (held-out pairs for training logs)."""
        return self._items("test", setting, self.config.train_items)

    def _items(self, split: str, setting: str, limit: int | None) -> list[Item]:
        variants = ("localized", "nonlocalized") if setting == "both" else (setting,)
        items = sorted(
            (item for item in self.dataset
             if item.split == split and item.country == self.config.country and item.variant in variants),
            key=lambda item: (item.pair_id, item.variant, item.id),
        )
        return items[:limit] if limit is not None else items


def model_key(plan: Plan) -> dict[str, Any]:
    """Return the model facts every unit that runs the model depends on."""
    return {"model": plan.model.identity, "dtype": plan.config.dtype, "device": plan.device.split(":")[0]}
