"""`steered_hf`: lm-eval's Hugging Face model with steering hooks on decoder blocks.

    lm_eval --model steered_hf --tasks culture_arabic_nonloc \\
        --model_args pretrained=default,vector=caa.safetensors,multiplier=2,positions=all

model_args (lm-eval splits them on commas, so lists use `;`):
- `pretrained`: a preset name (`default`), a Hugging Face id or a local folder.
- `vector`: `FILE[;FILE...]`: culturebench `.safetensors` vectors or lm-eval `steered`
  dictionaries (`.pt`, read with `torch.load(weights_only=True)`). Without it the model runs
  unsteered through the same code.
- `multiplier`: λ for all files, or `λ1;λ2;...` one per file (default: each file's
  `default_multiplier`; 1 for lm-eval dictionaries, which scales their coefficient). Dense
  vectors add λ·v; SAE-space vectors apply Φ(h, λ·v). λ = 0 registers no hook, so the outputs
  are exactly the unsteered ones.
- `positions`: `all` (default), `prompt` or `generated`. In log-likelihood requests the
  continuation's tokens count as generated (all but its last token, which is only predicted),
  matching generation, where the prefill is the prompt.
- `sae`: SAE source(s) for SAE-space vectors (default: the source recorded in the file).
- `restricted`: compute Φ on the vector's support only (default true; same values, faster).
- `check_model`: compare each vector's model id with the loaded model (default true).

lm-eval copies `model_args` into its results file as given, so a relative vector path there
cannot be found again from another folder. `steered_hf` therefore adds to the results' `config`:
`steering_vectors` (each file's absolute path), `steering_methods` (each vector header's
`method`, or `lm-eval-steered` for a `.pt` dictionary), `steering_multipliers` and
`steering_positions`.

Every lm-eval process builds its own model and registers the same hooks, so data-parallel runs
(`accelerate launch -m lm_eval --model steered_hf ...`) steer every shard alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from culturebench.errors import CultureBenchError
from culturebench.models import resolve_model_path
from culturebench.steering.apply import SteeringSet
from culturebench.steering.hooks import SteeringHandle, apply_interventions, check_positions
from culturebench.steering.identity import model_id_of

logger = logging.getLogger(__name__)

# The method recorded for lm-eval `steered` dictionaries, whose files carry no method.
LM_EVAL_STEERED_METHOD = "lm-eval-steered"


def split_list(value) -> list[str]:
    """Split a `;`-separated model_args value into its non-empty parts."""
    if value is None:
        return []
    return [part.strip() for part in str(value).split(";") if part.strip()]


def parse_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise CultureBenchError(f"invalid {name}={value!r}: use true or false")


def parse_multiplier(value) -> float | list[float] | None:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if value is None else float(value)
    try:
        values = [float(part) for part in split_list(value)]
    except ValueError as error:
        raise CultureBenchError(f"invalid multiplier {value!r}: use a number or numbers joined by ';'") from error
    return values[0] if len(values) == 1 else values


@register_model("steered_hf")
class SteeredHFLM(HFLM):
    """HFLM that applies culturebench steering vectors through forward hooks."""

    def __init__(
        self,
        pretrained="default",
        vector: str | None = None,
        multiplier=None,
        positions: str = "all",
        sae: str | None = None,
        restricted=True,
        check_model=True,
        **kwargs,
    ) -> None:
        if isinstance(pretrained, str):
            pretrained = resolve_model_path(pretrained)
        super().__init__(pretrained=pretrained, **kwargs)

        self.positions = check_positions(str(positions))
        self.restricted = parse_bool(restricted, "restricted")
        self.check_model = parse_bool(check_model, "check_model")
        self._handle: SteeringHandle | None = None
        self._continuations: dict[tuple[int, ...], int] | None = None
        self.load_vectors(vector, sae=sae, multiplier=parse_multiplier(multiplier))

    def load_vectors(self, vector, *, sae=None, multiplier=None) -> None:
        """Replace the steering vectors (`;`-separated files or a list) and register their hooks."""
        files = split_list(vector) if isinstance(vector, (str, type(None))) else [str(item) for item in vector]
        sae_specs = split_list(sae) if isinstance(sae, (str, type(None))) else [str(item) for item in sae]
        model_id = model_id_of(self.model) if self.check_model else None
        self.remove_steering()
        self.steering = SteeringSet(self.model, files, sae=sae_specs or None, model_id=model_id)
        self.set_multiplier(multiplier)

    def set_multiplier(self, multiplier: float | Sequence[float] | None) -> None:
        """Re-register the hooks with a new multiplier (no model reload); 0 removes them all."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.multipliers = self.steering.multipliers(multiplier)
        interventions = self.steering.interventions(
            self.multipliers, positions=self.positions, restricted=self.restricted
        )
        if interventions:
            self._handle = apply_interventions(self.model, interventions)
        logger.info("steering %d file(s) with multipliers %s at %s positions (%d hooks)",
                    len(self.steering.files), self.multipliers, self.positions, len(interventions))

    def steering_info(self) -> dict[str, Any]:
        """Return the steering setup in the form `get_model_info` adds to lm-eval's results `config`."""
        return {
            "steering_vectors": [str(Path(item.path).expanduser().resolve()) for item in self.steering.files],
            "steering_methods": [
                item.vector.method if item.vector is not None else LM_EVAL_STEERED_METHOD for item in self.steering.files
            ],
            "steering_multipliers": list(self.multipliers),
            "steering_positions": self.positions,
        }

    def get_model_info(self) -> dict:
        """Extend HFLM's model info, which lm-eval merges into the results `config`, with `steering_info`."""
        info = super().get_model_info()
        info.update(self.steering_info())
        return info

    def remove_steering(self) -> None:
        """Remove every hook; the model then runs unsteered."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if self._handle is None or self.positions == "all":
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        # Remember each request's model input (built as HFLM builds it) and its continuation
        # length, so `_model_call` can mark the continuation tokens of each batch row.
        self._continuations = {}
        for _, context, continuation in requests:
            model_input = (context + continuation)[-(self.max_length + 1):][:-1]
            self._continuations.setdefault(tuple(model_input), len(continuation))
        try:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        finally:
            self._continuations = None

    def _model_call(self, inps, attn_mask=None, labels=None):
        if self._continuations is None or self._handle is None:
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)
        with self._handle.generated_positions(self._continuation_mask(inps)):
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)

    def _continuation_mask(self, inps: torch.Tensor) -> torch.Tensor:
        """Mark, per right-padded row, the input positions that hold continuation tokens."""
        mask = torch.zeros(inps.shape, dtype=torch.bool)
        lengths = sorted({len(key) for key in self._continuations}, reverse=True)
        for row, tokens in enumerate(inps.tolist()):
            for length in lengths:
                if length > len(tokens) or any(tokens[length:]):
                    continue
                continuation = self._continuations.get(tuple(tokens[:length]))
                if continuation is not None:
                    mask[row, length - continuation + 1: length] = True
                    break
        return mask
