"""CAA and SAS: steering vectors from mean activation differences over contrast sets.

Where activations are read: the output of decoder block L at every token of the answer
continuation, averaged over those tokens, giving one vector per (prompt, answer) example. The
answer tokens are found as lm-eval finds a continuation: the prompt (trailing spaces moved to
the answer) and prompt + answer are tokenized, and the answer is the extra tokens. The last
prompt token is not read, because it is the same for positive and negative answers.

- CAA: v = mean over positive examples − mean over negative examples (d_model entries).
- SAS: the same on SAE codes z = Enc(h) (the code is averaged over the answer tokens). Latents
  active (z > 0) in at least a fraction τ of positive examples form P, and likewise N for the
  negative examples; latents in both are dropped. v = mean z⁺ on P∖N − mean z⁻ on N∖P, zero
  elsewhere (d_sae entries). Applied through Φ, the negative entries switch latents off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from culturebench.errors import CultureBenchError
from culturebench.prompts import encode_prompt
from culturebench.steering.contrast import ContrastGroup
from culturebench.steering.hooks import Intervention, steer
from culturebench.steering.layers import find_decoder_layout

logger = logging.getLogger(__name__)

READ_POSITIONS = "mean over the answer tokens of the block output"


class _StopForward(Exception):
    """Raised by the capture hook so the blocks above the read layer do not run."""


@dataclass
class _Example:
    ids: list[int]
    answer_start: int
    positive: bool


def encode_example(tokenizer, prompt: str, answer: str) -> tuple[list[int], int]:
    """Tokenize prompt + answer as lm-eval does; return the ids and the first answer position."""
    stripped = prompt.rstrip()
    answer = prompt[len(stripped):] + answer
    prompt_ids = encode_prompt(tokenizer, stripped)
    whole = encode_prompt(tokenizer, stripped + answer)
    if len(whole) <= len(prompt_ids):
        raise CultureBenchError(f"answer {answer!r} adds no tokens to its prompt")
    return whole, len(prompt_ids)


def _examples(tokenizer, groups: list[ContrastGroup]) -> list[_Example]:
    examples = []
    for group in groups:
        for answers, positive in ((group.positives, True), (group.negatives, False)):
            for answer in answers:
                ids, start = encode_example(tokenizer, group.prompt, answer)
                examples.append(_Example(ids, start, positive))
    return examples


def answer_activations(
    model: nn.Module,
    tokenizer,
    groups: list[ContrastGroup],
    layer: int,
    *,
    batch_size: int = 8,
    transform: Callable[[Tensor], Tensor] | None = None,
) -> Iterator[tuple[Tensor, bool]]:
    """Yield `(activation, is_positive)` per example: block `layer`'s output averaged over the
    answer tokens, in fp32, after `transform` (e.g. an SAE encoder) is applied per token."""
    layout = find_decoder_layout(model)
    layout.check_layer(layer)
    examples = _examples(tokenizer, groups)
    device = next(model.parameters()).device
    captured: dict[str, Tensor] = {}

    def capture(hidden: Tensor) -> Tensor:
        captured["hidden"] = hidden
        raise _StopForward

    ordered = sorted(range(len(examples)), key=lambda index: -len(examples[index].ids))
    progress = tqdm(total=len(examples), desc=f"reading layer {layer}", disable=None)
    with torch.no_grad(), steer(model, [Intervention(layer, capture)]):
        for start in range(0, len(ordered), batch_size):
            batch = [examples[index] for index in ordered[start:start + batch_size]]
            width = max(len(example.ids) for example in batch)
            ids = torch.zeros(len(batch), width, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            for row, example in enumerate(batch):
                ids[row, : len(example.ids)] = torch.tensor(example.ids)
                mask[row, : len(example.ids)] = 1
            try:
                layout.stack(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
            except _StopForward:
                pass
            hidden = captured.pop("hidden").float()
            for row, example in enumerate(batch):
                tokens = hidden[row, example.answer_start: len(example.ids)]
                if transform is not None:
                    tokens = transform(tokens).float()
                yield tokens.mean(dim=0).cpu(), example.positive
            progress.update(len(batch))
    progress.close()


def extract_caa(model, tokenizer, groups: list[ContrastGroup], layer: int, *, batch_size: int = 8) -> tuple[Tensor, dict]:
    """Compute the CAA vector (mean positive − mean negative activation) and its statistics."""
    sums = {True: None, False: None}
    counts = {True: 0, False: 0}
    for activation, positive in answer_activations(model, tokenizer, groups, layer, batch_size=batch_size):
        sums[positive] = activation if sums[positive] is None else sums[positive] + activation
        counts[positive] += 1
    _check_counts(counts)
    vector = sums[True] / counts[True] - sums[False] / counts[False]
    return vector, {"positives": counts[True], "negatives": counts[False]}


def extract_sas(
    model, tokenizer, groups: list[ContrastGroup], layer: int, sae, *, tau: float = 0.7, batch_size: int = 8
) -> tuple[Tensor, dict]:
    """Compute the SAS vector on SAE codes with frequency threshold `tau` and shared-latent removal."""
    if not 0 < tau <= 1:
        raise CultureBenchError(f"invalid tau {tau}: expected a fraction in (0, 1]")
    d_sae = int(sae.cfg.d_sae)
    sums = {True: torch.zeros(d_sae), False: torch.zeros(d_sae)}
    active = {True: torch.zeros(d_sae), False: torch.zeros(d_sae)}
    counts = {True: 0, False: 0}

    def encode(tokens: Tensor) -> Tensor:
        return sae.encode(tokens.to(sae.W_dec.dtype))

    for code, positive in answer_activations(model, tokenizer, groups, layer, batch_size=batch_size, transform=encode):
        sums[positive] += code
        active[positive] += (code > 0).float()
        counts[positive] += 1
    _check_counts(counts)

    frequent_positive = active[True] / counts[True] >= tau
    frequent_negative = active[False] / counts[False] >= tau
    keep_positive = frequent_positive & ~frequent_negative
    keep_negative = frequent_negative & ~frequent_positive
    vector = torch.zeros(d_sae)
    vector[keep_positive] = (sums[True] / counts[True])[keep_positive]
    vector[keep_negative] = -(sums[False] / counts[False])[keep_negative]
    stats = {
        "positives": counts[True],
        "negatives": counts[False],
        "positive_latents": int(keep_positive.sum()),
        "negative_latents": int(keep_negative.sum()),
        "shared_latents": int((frequent_positive & frequent_negative).sum()),
    }
    if not bool(vector.any()):
        logger.warning("SAS kept no latent at tau=%s (stats %s); lower tau or add data", tau, stats)
    return vector, stats


def _check_counts(counts: dict[bool, int]) -> None:
    if not counts[True] or not counts[False]:
        raise CultureBenchError(
            f"need positive and negative examples, got {counts[True]} positive and {counts[False]} negative"
        )
