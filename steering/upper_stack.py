"""Run only the decoder blocks above layer L, from cached block-L outputs, without model-specific code.

Training a vector at layer L never changes what happens below L, so the output of block L is
computed once per sequence. The blocks above L need the extra inputs their model's forward
builds for them (attention masks, rotary position embeddings, which can differ per block, as
in Gemma's sliding and global layers). `capture` records those inputs with forward pre-hooks
during one ordinary forward of the decoder stack; `logits` then calls the upper blocks
directly with them, applies the final norm only at the requested positions and projects those
positions through the output head.

The recorded inputs belong to the exact batch they were captured with (same rows, same
padding), so a captured batch is replayed as a whole. `check_against_model` compares the
result with the model's own logits, which catches architectures whose head does more than the
final norm, the output projection and Gemma's logit soft-capping.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from culturebench.errors import CultureBenchError
from culturebench.steering.layers import DecoderLayout, find_decoder_layout, text_config

# Attribute names of the final norm on the module that runs the decoder blocks.
_FINAL_NORM_NAMES = ("norm", "final_layernorm", "ln_f", "final_layer_norm", "norm_f")


@dataclass
class BlockInputs:
    """The inputs one upper block received besides its hidden states (positional and keyword)."""

    args: tuple
    kwargs: dict
    hidden_as_kwarg: bool = False


@dataclass
class CapturedBatch:
    """Block-L output of one batch and the inputs of every block above L for that batch."""

    hidden: Tensor
    blocks: list[BlockInputs]


class _StopAfterLastBlock(Exception):
    """Raised after the last block so the capture pass skips the final norm."""


class UpperStack:
    """The blocks above `layer`, the final norm and the output head of a causal LM.

    Example:
        >>> upper = UpperStack(model, layer=6)
        >>> captured = upper.capture(input_ids, attention_mask)
        >>> logits = upper.logits(transform(captured.hidden), captured, flat_positions)
    """

    def __init__(self, model: nn.Module, layer: int) -> None:
        self.model = model
        self.layout: DecoderLayout = find_decoder_layout(model)
        self.layout.check_layer(layer)
        self.layer = layer
        self.final_norm = _find_final_norm(self.layout, model)
        self.head = model.get_output_embeddings()
        if self.head is None:
            raise CultureBenchError(f"{type(model).__name__} has no output head (get_output_embeddings() is None)")
        self.softcap = getattr(text_config(model), "final_logit_softcapping", None)

    @property
    def upper_blocks(self) -> list[nn.Module]:
        return list(self.layout.blocks[self.layer + 1:])

    def capture(self, input_ids: Tensor, attention_mask: Tensor) -> CapturedBatch:
        """Run the decoder stack once and record block L's output and the upper blocks' inputs."""
        recorded: list[BlockInputs] = []
        output: dict[str, Tensor] = {}

        def record_inputs(module, args, kwargs):
            if args:
                recorded.append(BlockInputs(tuple(args[1:]), dict(kwargs)))
            else:
                rest = {key: value for key, value in kwargs.items() if key != "hidden_states"}
                recorded.append(BlockInputs((), rest, hidden_as_kwarg=True))

        def record_output(module, args, result):
            output["hidden"] = (result[0] if isinstance(result, tuple) else result).detach()

        def stop(module, args, result):
            raise _StopAfterLastBlock

        blocks = self.layout.blocks
        handles = [blocks[self.layer].register_forward_hook(record_output)]
        handles += [block.register_forward_pre_hook(record_inputs, with_kwargs=True) for block in self.upper_blocks]
        handles.append(blocks[len(blocks) - 1].register_forward_hook(stop))
        try:
            with torch.no_grad():
                self.layout.stack(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        except _StopAfterLastBlock:
            pass
        finally:
            for handle in handles:
                handle.remove()
        if "hidden" not in output or len(recorded) != len(self.upper_blocks):
            raise CultureBenchError(
                f"capturing the inputs of the blocks above layer {self.layer} failed: the decoder stack of "
                f"{type(self.model).__name__} did not call its blocks in order; train with fast=False"
            )
        return CapturedBatch(hidden=output["hidden"], blocks=recorded)

    def run_blocks(self, hidden: Tensor, captured: CapturedBatch) -> Tensor:
        """Run the blocks above L on `hidden` (same batch shape as the captured one)."""
        for block, inputs in zip(self.upper_blocks, captured.blocks):
            if inputs.hidden_as_kwarg:
                result = block(hidden_states=hidden, **inputs.kwargs)
            else:
                result = block(hidden, *inputs.args, **inputs.kwargs)
            hidden = result[0] if isinstance(result, tuple) else result
        return hidden

    def head_logits(self, hidden: Tensor) -> Tensor:
        """Apply the final norm, the output head and any logit soft-capping to (..., d_model) states."""
        logits = self.head(self.final_norm(hidden))
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def logits(self, hidden: Tensor, captured: CapturedBatch, flat_positions: Tensor) -> Tensor:
        """Return the logits at `flat_positions` (indices into batch × sequence) after the upper blocks.

        Args:
            hidden: the (possibly steered) block-L output, shaped like `captured.hidden`.
            captured: the batch's recorded block inputs.
            flat_positions: (n,) long indices `row * seq_len + position`.
        """
        top = self.run_blocks(hidden, captured)
        selected = top.reshape(-1, top.shape[-1]).index_select(0, flat_positions)
        return self.head_logits(selected)


def _find_final_norm(layout: DecoderLayout, model: nn.Module) -> nn.Module:
    for name in _FINAL_NORM_NAMES:
        module = getattr(layout.stack, name, None)
        if isinstance(module, nn.Module):
            return module
    raise CultureBenchError(
        f"cannot find the final norm of {type(model).__name__} (looked for {', '.join(_FINAL_NORM_NAMES)} on "
        f"{layout.path.rsplit('.', 1)[0] or 'the model'}); train with fast=False"
    )


def check_against_model(
    upper: UpperStack,
    input_ids: Tensor,
    attention_mask: Tensor,
    captured: CapturedBatch,
    flat_positions: Tensor,
    *,
    tolerance: float,
) -> float:
    """Compare the upper-stack log-probs with the full model's at `flat_positions`; return the max difference.

    Raises:
        CultureBenchError: when the difference exceeds `tolerance`.
    """
    with torch.no_grad():
        full = upper.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        full = full.reshape(-1, full.shape[-1]).index_select(0, flat_positions)
        fast = upper.logits(captured.hidden, captured, flat_positions)
    difference = float((torch.log_softmax(full.float(), -1) - torch.log_softmax(fast.float(), -1)).abs().max())
    if difference > tolerance:
        raise CultureBenchError(
            f"the blocks-above-layer-{upper.layer} fast path disagrees with {type(upper.model).__name__}'s own "
            f"log-probs by {difference:.3g} (tolerance {tolerance:g}); train with fast=False"
        )
    return difference
