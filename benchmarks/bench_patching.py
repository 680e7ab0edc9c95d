"""Time activation patching with the reused prefix cache against one full forward per option and layer.

Both compute the same option probabilities (the script checks it). The full-forward baseline runs
each option's whole sequence, prompt included, once per patched layer, which is what patching
costs without the KV cache of the prompt prefix.

Usage:
    python benchmarks/bench_patching.py [--model default] [--country morocco] [--pairs 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from culturebench.loaders import load_items
from culturebench.models import load_model
from culturebench.prompts import cloze_continuations, cloze_prompt, encode_prompt
from culturebench.steering.extract import encode_example
from culturebench.steering.hooks import Intervention, steer
from culturebench.steering.layers import find_decoder_layout
from culturebench.steering.patching import paired_items, patch_pair


def full_forward_probabilities(model, tokenizer, item, layer, state) -> torch.Tensor:
    """Option probabilities from one full forward per option, the last prompt token patched at `layer`."""
    prompt = cloze_prompt(item)
    prompt_length = len(encode_prompt(tokenizer, prompt))

    def patch(hidden):
        hidden = hidden.clone()
        hidden[:, prompt_length - 1] = state.to(hidden.dtype)
        return hidden

    scores = []
    for continuation in cloze_continuations(item):
        ids, start = encode_example(tokenizer, prompt, continuation)
        with torch.no_grad(), steer(model, [Intervention(layer, patch)]):
            log_probs = model(torch.tensor([ids]), use_cache=False).logits[0].float().log_softmax(-1)
        targets = torch.tensor(ids[start:])
        total = log_probs[torch.arange(start - 1, len(ids) - 1), targets].sum()
        scores.append(total / len(continuation.strip()))
    return torch.stack(scores).softmax(0)


def last_token_states(model, tokenizer, item, layers) -> list[torch.Tensor]:
    """Return each block's output at the prompt's last token, read through the steering hooks.

    `output_hidden_states` would not do: in transformers its last entry is taken after the final
    norm, not at the output of the last block.
    """
    ids = encode_prompt(tokenizer, cloze_prompt(item))
    states = {}

    def recorder(layer):
        def record(hidden):
            states[layer] = hidden[0, -1].detach().clone()
            return hidden

        return record

    with torch.no_grad(), steer(model, [Intervention(layer, recorder(layer)) for layer in layers]):
        model(torch.tensor([ids]), use_cache=False)
    return [states[layer] for layer in layers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--country", default="morocco")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()

    model, tokenizer = load_model(args.model, dtype="float32", device="cpu")
    layers = list(range(find_decoder_layout(model).num_layers))
    pairs = paired_items([item for item in load_items() if item.split == "train"], country=args.country)[: args.pairs]

    start = time.perf_counter()
    effects = [patch_pair(model, tokenizer, localized, nonlocalized, layers) for localized, nonlocalized in pairs]
    cached = time.perf_counter() - start

    start = time.perf_counter()
    largest = 0.0
    for (localized, nonlocalized), effect in zip(pairs, effects):
        states = last_token_states(model, tokenizer, localized, layers)
        for layer in layers:
            expected = full_forward_probabilities(model, tokenizer, nonlocalized, layer, states[layer])
            largest = max(largest, float((expected - torch.tensor(effect.patched[layer])).abs().max()))
    full = time.perf_counter() - start

    print(f"{len(pairs)} pairs x {len(layers)} layers, {args.model}, torch threads {torch.get_num_threads()}")
    print(f"prefix cache: {cached:.1f} s   full forwards: {full:.1f} s   ratio full/cache: {full / cached:.2f}")
    print(f"largest probability difference between the two: {largest:.2e}")


if __name__ == "__main__":
    main()
