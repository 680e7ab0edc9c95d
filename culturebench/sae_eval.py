"""Load an SAE in sae-lens format and measure its reconstruction quality on held-out text."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaeQuality:
    """Reconstruction quality of an SAE on a set of tokens (<bos> positions excluded).

    Attributes:
        fraction_variance_explained: 1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over tokens.
        l0: mean number of non-zero latents per token.
        dead_fraction: share of latents that never fire on these tokens.
        tokens: number of tokens evaluated.
    """

    fraction_variance_explained: float
    l0: float
    dead_fraction: float
    tokens: int

    def as_dict(self) -> dict:
        return asdict(self)


def load_sae(path: str | Path, *, dtype: str = "float32", device: str = "cpu"):
    """Load an SAE folder (cfg.json + sae_weights.safetensors) with sae-lens, upcasting its weights to `dtype`."""
    from sae_lens import SAE

    return SAE.load_from_disk(str(path), device=device, dtype=dtype)


class _StopForward(Exception):
    """Raised by the capture hook to skip the blocks after the one being read."""


def block_outputs(model, tokenizer, texts: list[str], layer: int, *, context_size: int = 128,
                  max_tokens: int = 50_000, batch_rows: int = 8):
    """Return the output of decoder block `layer` for packed held-out text, <bos> positions removed.

    Texts are packed in their given order with `culturebench.sae_training.pack_rows` without
    shuffling, so the same texts always give the same tokens. Returns a float32 tensor (tokens, d_model).
    """
    from culturebench.sae_training import pack_rows

    rows = pack_rows(texts, tokenizer, context_size, max_tokens, seed=None) if texts else []
    if not rows:
        raise ValueError("no held-out tokens: the texts are shorter than one context window")
    return activations_of_rows(model, tokenizer, rows, layer, batch_rows=batch_rows)


def activations_of_rows(model, tokenizer, rows: list[list[int]], layer: int, *, batch_rows: int = 8):
    """Return block `layer`'s output for rows of token ids, <bos> positions removed, as float32 (tokens, d_model)."""
    import torch

    tokens = torch.tensor(rows, dtype=torch.long, device=model.device)
    captured: list = []

    def capture(module, inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured.append(hidden.detach().float().cpu())
        raise _StopForward

    handle = model.model.layers[layer].register_forward_hook(capture)
    try:
        with torch.no_grad():
            for start in range(0, len(tokens), batch_rows):
                try:
                    model(input_ids=tokens[start:start + batch_rows])
                except _StopForward:
                    pass
    finally:
        handle.remove()
    hidden = torch.cat(captured).reshape(-1, captured[0].shape[-1])
    keep = (tokens.reshape(-1) != tokenizer.bos_token_id).cpu()
    return hidden[keep]


def quality_on_activations(sae, activations) -> SaeQuality:
    """Compute `SaeQuality` of `sae` on a (tokens, d_model) tensor of raw activations."""
    import torch

    with torch.no_grad():
        latents = sae.encode(activations.to(sae.dtype))
        reconstruction = sae.decode(latents).float()
    residual = (activations - reconstruction).pow(2).sum()
    total = (activations - activations.mean(dim=0)).pow(2).sum()
    fired = (latents > 0)
    return SaeQuality(
        fraction_variance_explained=float(1 - residual / total),
        l0=float(fired.sum(dim=-1).float().mean()),
        dead_fraction=float((fired.sum(dim=0) == 0).float().mean()),
        tokens=int(activations.shape[0]),
    )


def evaluate_sae(sae, model, tokenizer, texts: list[str], layer: int, *, context_size: int = 128,
                 max_tokens: int = 50_000) -> SaeQuality:
    """Measure `sae` on the block-`layer` outputs of up to `max_tokens` tokens of `texts`."""
    activations = block_outputs(model, tokenizer, texts, layer, context_size=context_size, max_tokens=max_tokens)
    quality = quality_on_activations(sae, activations)
    logger.info("SAE quality on %d held-out tokens: FVE %.3f, L0 %.1f, dead %.1f%%", quality.tokens,
                quality.fraction_variance_explained, quality.l0, 100 * quality.dead_fraction)
    return quality
