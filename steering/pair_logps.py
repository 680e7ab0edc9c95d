"""Summed response log-probs of one pair under a steering transform: fast and naive computations.

- `FastPairs` caches each pair's block-L output and upper-block inputs once
  (`upper_stack.UpperStack`), computes the unsteered reference log-probs once, and per step
  runs only the blocks above L and the vocabulary head at response positions.
- `NaivePairs` runs the full model with a forward hook at layer L, projects every position
  through the vocabulary head and, like the reference BiPO/YaPO code, recomputes the
  reference log-probs with a second forward each time. It serves as the baseline of the
  equivalence test and the benchmark, and as a fallback for architectures the fast path
  rejects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from culturebench.steering.hooks import Intervention, Transform, steer
from culturebench.steering.pair_states import EncodedPair, PairState
from culturebench.steering.preference_loss import response_logps
from culturebench.steering.upper_stack import UpperStack, check_against_model

logger = logging.getLogger(__name__)

# Max per-token log-prob difference allowed between the fast path and the model's own forward.
FP32_TOLERANCE = 1e-3
LOW_PRECISION_TOLERANCE = 0.5


class FastPairs:
    """Pairs with cached block-L states, scored by running only the blocks above L."""

    def __init__(self, model: nn.Module, layer: int, encoded: Sequence[EncodedPair], *, with_reference: bool,
                 autocast: bool = False, check: bool = True, description: str = "caching") -> None:
        self.upper = UpperStack(model, layer)
        self.device = next(model.parameters()).device
        self.autocast = autocast
        self.states: list[PairState] = []
        identity = None
        for index, pair in enumerate(tqdm(encoded, desc=f"{description} layer-{layer} states", disable=None)):
            pair = pair.to(self.device)
            with self._autocast(), torch.no_grad():
                captured = self.upper.capture(pair.input_ids, pair.attention_mask)
                if check and index == 0:
                    self._check(pair, captured)
                state = PairState(pair, captured, reference=torch.zeros(2, device=self.device))
                if with_reference:
                    state.reference = self._logps(state, identity)
            self.states.append(state)

    def __len__(self) -> int:
        return len(self.states)

    def num_tokens(self, index: int) -> int:
        return self.states[index].encoded.num_tokens

    def reference(self, index: int) -> Tensor:
        return self.states[index].reference

    def policy(self, index: int, transform: Transform) -> Tensor:
        """Return the (chosen, rejected) log-probs with block L's output mapped by `transform`."""
        with self._autocast():
            return self._logps(self.states[index], transform)

    def _logps(self, state: PairState, transform: Transform | None) -> Tensor:
        hidden = state.captured.hidden if transform is None else transform(state.captured.hidden)
        encoded = state.encoded
        logits = self.upper.logits(hidden, state.captured, encoded.flat_positions)
        return response_logps(logits, encoded.targets, encoded.rows, 2)

    def _check(self, pair: EncodedPair, captured) -> None:
        dtype = next(self.upper.model.parameters()).dtype
        low_precision = self.autocast or dtype in (torch.bfloat16, torch.float16)
        tolerance = LOW_PRECISION_TOLERANCE if low_precision else FP32_TOLERANCE
        difference = check_against_model(self.upper, pair.input_ids, pair.attention_mask, captured,
                                         pair.flat_positions, tolerance=tolerance)
        logger.info("fast path matches the full forward to %.2g (max per-token log-prob difference)", difference)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast)


class NaivePairs:
    """Pairs scored by full forwards with a layer-L hook (reference recomputed on every call)."""

    def __init__(self, model: nn.Module, layer: int, encoded: Sequence[EncodedPair], *, with_reference: bool,
                 autocast: bool = False) -> None:
        self.model = model
        self.layer = layer
        self.device = next(model.parameters()).device
        self.encoded = [pair.to(self.device) for pair in encoded]
        self.with_reference = with_reference
        self.autocast = autocast

    def __len__(self) -> int:
        return len(self.encoded)

    def num_tokens(self, index: int) -> int:
        return self.encoded[index].num_tokens

    def reference(self, index: int) -> Tensor:
        if not self.with_reference:
            return torch.zeros(2, device=self.device)
        with torch.no_grad():
            return self._logps(self.encoded[index], None)

    def policy(self, index: int, transform: Transform) -> Tensor:
        return self._logps(self.encoded[index], transform)

    def _logps(self, pair: EncodedPair, transform: Transform | None) -> Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if transform is None:
                logits = self._forward(pair)
            else:
                with steer(self.model, [Intervention(self.layer, transform)]):
                    logits = self._forward(pair)
        return sequence_logps(logits, pair)

    def _forward(self, pair: EncodedPair) -> Tensor:
        return self.model(input_ids=pair.input_ids, attention_mask=pair.attention_mask, use_cache=False).logits


def sequence_logps(logits: Tensor, pair: EncodedPair) -> Tensor:
    """Sum response-token log-probs from full (2, seq, vocab) logits, masking prompt and padding."""
    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    next_tokens = pair.input_ids[:, 1:]
    token_logps = log_probs.gather(-1, next_tokens.unsqueeze(-1)).squeeze(-1)
    mask = torch.zeros_like(token_logps, dtype=torch.bool).reshape(-1)
    width = pair.input_ids.shape[1]
    rows = pair.flat_positions // width
    columns = pair.flat_positions % width
    mask[rows * (width - 1) + columns] = True
    return (token_logps * mask.reshape(token_logps.shape)).sum(dim=-1)
