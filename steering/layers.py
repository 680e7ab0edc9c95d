"""Locate the decoder blocks of a Hugging Face causal LM without per-architecture tables.

The blocks are the `nn.ModuleList` whose length equals the text config's `num_hidden_layers`.
When several lists qualify (a multimodal model with a vision tower of the same depth), lists
whose path names a vision or audio tower are skipped and the one named `layers` is preferred.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from culturebench.errors import CultureBenchError

_TOWER_WORDS = ("vision", "visual", "image", "audio", "encoder")
_PREFERRED_NAMES = ("layers", "h", "blocks", "layer")


@dataclass(frozen=True)
class DecoderLayout:
    """Where the decoder blocks of a model live.

    `path` is the module path of the block list (e.g. `model.layers`), `stack` the module that
    owns it and runs the blocks (its forward receives the KV cache), `blocks` the list itself.
    """

    path: str
    stack: nn.Module
    blocks: nn.ModuleList
    hidden_size: int

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def hookpoint(self, layer: int) -> str:
        """Return the module path of block `layer`, e.g. `model.layers.15`."""
        self.check_layer(layer)
        return f"{self.path}.{layer}"

    def block(self, layer: int) -> nn.Module:
        self.check_layer(layer)
        return self.blocks[layer]

    def check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.num_layers:
            raise CultureBenchError(
                f"layer {layer} is out of range: the model has {self.num_layers} decoder blocks "
                f"(valid layers are 0..{self.num_layers - 1})"
            )


def text_config(model: nn.Module):
    """Return the config that describes the language model (the text part of multimodal models)."""
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def find_decoder_layout(model: nn.Module) -> DecoderLayout:
    """Find the decoder block list of `model` and the module that runs it.

    Raises:
        CultureBenchError: when no `nn.ModuleList` of `num_hidden_layers` blocks exists.
    """
    config = text_config(model)
    depth = getattr(config, "num_hidden_layers", None)
    modules = dict(model.named_modules())
    candidates = [
        name
        for name, module in modules.items()
        if isinstance(module, nn.ModuleList)
        and (depth is None or len(module) == depth)
        and not any(word in name.lower() for word in _TOWER_WORDS)
    ]
    if not candidates:
        raise CultureBenchError(
            f"could not find the decoder blocks of {type(model).__name__}: no nn.ModuleList of "
            f"{depth} modules outside vision/audio towers"
        )

    def rank(name: str) -> tuple[int, int]:
        last = name.rsplit(".", 1)[-1]
        preferred = _PREFERRED_NAMES.index(last) if last in _PREFERRED_NAMES else len(_PREFERRED_NAMES)
        return preferred, name.count(".")

    path = min(candidates, key=rank)
    parent_path = path.rsplit(".", 1)[0] if "." in path else ""
    return DecoderLayout(
        path=path,
        stack=modules[parent_path],
        blocks=modules[path],
        hidden_size=int(config.hidden_size),
    )
