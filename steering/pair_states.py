"""Preference pairs as token batches, and the per-pair states the fast trainer caches.

Each pair becomes one right-padded batch of two rows, prompt + chosen and prompt + rejected,
tokenized as lm-eval tokenizes a log-likelihood request (`extract.encode_example`). Right
padding keeps every real token's position and, with causal attention, makes the padding
invisible to the real tokens, so per-pair batches give the same log-probs as any larger batch.

The log-prob of response token t at position p is read from the logits at position p − 1, so
only those positions are ever projected through the vocabulary head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from culturebench.errors import CultureBenchError
from culturebench.steering.extract import encode_example
from culturebench.steering.upper_stack import CapturedBatch

@dataclass
class EncodedPair:
    """Token batch of one pair: row 0 is prompt + chosen, row 1 prompt + rejected.

    `flat_positions` index the flattened (2 × seq_len) logits that predict the response tokens
    `targets`; `rows` gives the row each of them belongs to.
    """

    input_ids: Tensor
    attention_mask: Tensor
    flat_positions: Tensor
    targets: Tensor
    rows: Tensor

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum())

    def to(self, device) -> EncodedPair:
        return EncodedPair(*(tensor.to(device) for tensor in
                             (self.input_ids, self.attention_mask, self.flat_positions, self.targets, self.rows)))


def encode_pair(tokenizer, prompt: str, chosen: str, rejected: str) -> EncodedPair:
    """Tokenize one pair into a right-padded two-row batch with its response positions.

    Raises:
        CultureBenchError: when a response adds no tokens or the prompt encodes to no tokens.
    """
    sequences = [encode_example(tokenizer, prompt, answer) for answer in (chosen, rejected)]
    width = max(len(ids) for ids, _ in sequences)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((2, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((2, width), dtype=torch.long)
    positions, targets, rows = [], [], []
    for row, (ids, start) in enumerate(sequences):
        if start < 1:
            raise CultureBenchError(f"prompt {prompt[:60]!r} encodes to no tokens; a response needs a token before it")
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
        for position in range(start, len(ids)):
            positions.append(row * width + position - 1)
            targets.append(ids[position])
            rows.append(row)
    return EncodedPair(
        input_ids=input_ids,
        attention_mask=attention_mask,
        flat_positions=torch.tensor(positions, dtype=torch.long),
        targets=torch.tensor(targets, dtype=torch.long),
        rows=torch.tensor(rows, dtype=torch.long),
    )


@dataclass
class PairState:
    """Cached state of one pair: its tokens, the captured block-L batch and the unsteered
    log-probs of (chosen, rejected)."""

    encoded: EncodedPair
    captured: CapturedBatch
    reference: Tensor
