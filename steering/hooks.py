"""Forward hooks that steer the residual stream at decoder-block outputs.

A steering intervention maps the hidden states `h` of one block output to new ones, at the
positions its policy selects:

- `all`: every position, including padding (the reference behaviour);
- `prompt`: positions of the input the model reads before it generates;
- `generated`: positions holding generated tokens.

During KV-cached generation the first forward (the prefill, empty cache) contains the prompt,
whatever the padding side, and every later forward (non-empty cache, usually one token per
row) contains generated tokens. A forward hook on the module that runs the blocks reads the cache
length before the blocks run, so the rule needs no per-architecture code. A caller that scores
a given continuation in one forward (log-likelihood) marks its continuation tokens as
generated with `SteeringHandle.generated_positions(mask)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from culturebench.errors import CultureBenchError
from culturebench.steering.layers import DecoderLayout, find_decoder_layout

POSITIONS = ("all", "prompt", "generated")

Transform = Callable[[Tensor], Tensor]


@dataclass
class Intervention:
    """One transform of the output of decoder block `layer`.

    `transform` maps hidden states of shape (..., d_model) to steered states of the same shape
    and dtype; `positions` is one of `POSITIONS`.
    """

    layer: int
    transform: Transform
    positions: str = "all"

    def __post_init__(self) -> None:
        check_positions(self.positions)


def check_positions(positions: str) -> str:
    """Return `positions` unchanged, or raise when it is not a known policy."""
    if positions not in POSITIONS:
        raise CultureBenchError(
            f"invalid positions {positions!r}: expected one of {', '.join(POSITIONS)}"
        )
    return positions


def add_vector(vector: Tensor, multiplier: float = 1.0) -> Transform:
    """Make the dense transform `h -> h + multiplier * vector`.

    The scaled vector is cast once per dtype and device of the hidden states it meets. The
    multiplication happens in the vector's own dtype (fp32 for trained vectors).

    Example:
        >>> with steer(model, [Intervention(6, add_vector(v, 4.0))]):
        ...     model.generate(**batch)
    """
    scaled = vector.detach() * multiplier
    cast: dict[tuple[torch.dtype, torch.device], Tensor] = {}

    def transform(hidden: Tensor) -> Tensor:
        key = (hidden.dtype, hidden.device)
        if key not in cast:
            cast[key] = scaled.to(device=hidden.device, dtype=hidden.dtype)
        return hidden + cast[key]

    return transform


class _PositionTracker:
    """Tracker of which positions of the forward in progress contain generated tokens."""

    def __init__(self) -> None:
        self.cached_forward = False
        self.explicit_mask: Tensor | None = None

    def before_stack(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.cached_forward = _past_length(kwargs) > 0

    def generated_mask(self, hidden: Tensor) -> Tensor | bool:
        """Return a (batch, seq) bool mask of generated positions, or one bool for all of them."""
        if self.explicit_mask is None:
            return self.cached_forward
        if tuple(self.explicit_mask.shape) != tuple(hidden.shape[:2]):
            raise CultureBenchError(
                f"generated-position mask has shape {tuple(self.explicit_mask.shape)} but the "
                f"hidden states are {tuple(hidden.shape[:2])} (batch, sequence)"
            )
        return self.explicit_mask.to(hidden.device)


def _past_length(kwargs: dict) -> int:
    # transformers 5 renamed `past_key_values` to `cache`; accept both spellings.
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return int(cache[0][0].shape[-2]) if len(cache) else 0


def _make_hook(intervention: Intervention, tracker: _PositionTracker):
    transform = intervention.transform
    policy = intervention.positions

    def hook(module: nn.Module, args: tuple, output):
        hidden = output[0] if isinstance(output, tuple) else output
        if policy == "all":
            mask: Tensor | bool = True
        else:
            generated = tracker.generated_mask(hidden)
            mask = generated if policy == "generated" else _invert(generated)
        if mask is False or (isinstance(mask, Tensor) and not bool(mask.any())):
            return None

        steered = transform(hidden)
        if isinstance(mask, Tensor) and not bool(mask.all()):
            steered = torch.where(mask.unsqueeze(-1), steered, hidden)
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    return hook


def _invert(mask: Tensor | bool) -> Tensor | bool:
    return ~mask if isinstance(mask, Tensor) else not mask


class SteeringHandle:
    """The hooks of one set of interventions; `remove()` (or leaving the `with`) undoes all."""

    def __init__(self, model: nn.Module, interventions: Sequence[Intervention]) -> None:
        self.layout: DecoderLayout = find_decoder_layout(model)
        self.interventions = list(interventions)
        self._tracker = _PositionTracker()
        self._handles: list = []
        for intervention in self.interventions:
            self.layout.check_layer(intervention.layer)

        try:
            if any(item.positions != "all" for item in self.interventions):
                self._handles.append(
                    self.layout.stack.register_forward_pre_hook(
                        self._tracker.before_stack, with_kwargs=True
                    )
                )
            for intervention in self.interventions:
                block = self.layout.block(intervention.layer)
                self._handles.append(
                    block.register_forward_hook(_make_hook(intervention, self._tracker))
                )
        except BaseException:
            self.remove()
            raise

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def remove(self) -> None:
        """Remove every hook this handle registered (safe to call twice)."""
        while self._handles:
            self._handles.pop().remove()
        self._tracker.explicit_mask = None

    @contextmanager
    def generated_positions(self, mask: Tensor | None) -> Iterator[None]:
        """Treat the True entries of the (batch, seq) `mask` as generated tokens in forwards
        run inside this block; `None` keeps the cache rule."""
        previous = self._tracker.explicit_mask
        self._tracker.explicit_mask = None if mask is None else mask.bool()
        try:
            yield
        finally:
            self._tracker.explicit_mask = previous

    def __enter__(self) -> SteeringHandle:
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


def apply_interventions(model: nn.Module, interventions: Sequence[Intervention]) -> SteeringHandle:
    """Register hooks for `interventions` on `model` and return the handle that removes them."""
    return SteeringHandle(model, interventions)


@contextmanager
def steer(model: nn.Module, interventions: Sequence[Intervention]) -> Iterator[SteeringHandle]:
    """Steer `model` inside a `with` block; the hooks are removed on exit, even after an error.

    Example:
        >>> with steer(model, [Intervention(6, add_vector(v, 2.0), positions="generated")]):
        ...     output = model.generate(**batch, max_new_tokens=20)
    """
    handle = apply_interventions(model, interventions)
    try:
        yield handle
    finally:
        handle.remove()
