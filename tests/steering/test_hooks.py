"""Hooks on decoder blocks: discovery, removal and position policies during cached generation."""

from __future__ import annotations

import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.steering.hooks import Intervention, add_vector, steer
from culturebench.steering.layers import find_decoder_layout
from tests import tiny_models

LAYER = 1
PROMPT_LENGTHS = (9, 6)
NEW_TOKENS = 10


def _vector(scale: float = 4.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(tiny_models.HIDDEN_SIZE, generator=generator) * scale


def _prompts() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return [torch.randint(10, tiny_models.VOCAB_SIZE, (n,), generator=generator) for n in PROMPT_LENGTHS]


def _reference_greedy(model, prompt: torch.Tensor, vector: torch.Tensor, policy: str) -> tuple[list[int], list[torch.Tensor]]:
    """Greedy decoding without a KV cache, steering by hand at the positions `policy` names."""
    prompt_length = prompt.shape[0]

    def hook(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        positions = torch.arange(hidden.shape[1])
        if policy == "all":
            selected = torch.ones_like(positions, dtype=torch.bool)
        elif policy == "prompt":
            selected = positions < prompt_length
        else:
            selected = positions >= prompt_length
        steered = hidden + selected[None, :, None] * vector
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    handle = model.model.layers[LAYER].register_forward_hook(hook)
    tokens = prompt.tolist()
    step_logits = []
    try:
        with torch.no_grad():
            for _ in range(NEW_TOKENS):
                logits = model(torch.tensor([tokens]), use_cache=False).logits[0, -1]
                step_logits.append(logits)
                tokens.append(int(logits.argmax()))
    finally:
        handle.remove()
    return tokens[prompt_length:], step_logits


def _left_padded_batch(prompts: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(p.shape[0] for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - prompt.shape[0]:] = prompt
        mask[row, width - prompt.shape[0]:] = 1
    return ids, mask


def test_layout_found_per_architecture(tiny_model):
    layout = find_decoder_layout(tiny_model)
    assert layout.path == "model.layers"
    assert layout.num_layers == 4
    assert layout.hidden_size == tiny_models.HIDDEN_SIZE
    assert layout.hookpoint(3) == "model.layers.3"


def test_layer_out_of_range_rejected(tiny_model):
    with pytest.raises(CultureBenchError, match="layer 4 is out of range"):
        with steer(tiny_model, [Intervention(4, add_vector(_vector()))]):
            pass


def test_hooks_removed_after_error(tiny_model):
    ids = _prompts()[0][None]
    with torch.no_grad():
        clean = tiny_model(ids).logits
    with pytest.raises(RuntimeError, match="boom"):
        with steer(tiny_model, [Intervention(LAYER, add_vector(_vector()), positions="prompt")]):
            raise RuntimeError("boom")
    for module in tiny_model.modules():
        assert not module._forward_hooks
        assert not module._forward_pre_hooks
    with torch.no_grad():
        assert torch.equal(tiny_model(ids).logits, clean)


def test_zero_multiplier_is_identity(tiny_model):
    ids = _prompts()[0][None]
    with torch.no_grad():
        clean = tiny_model(ids).logits
        with steer(tiny_model, [Intervention(LAYER, add_vector(_vector(), 0.0))]):
            steered = tiny_model(ids).logits
    assert torch.equal(steered, clean)


@pytest.mark.parametrize("policy", ["all", "prompt", "generated"])
def test_policy_holds_in_cached_generation(tiny_model, policy):
    vector = _vector()
    prompts = _prompts()
    ids, mask = _left_padded_batch(prompts)
    with torch.no_grad():
        unsteered = tiny_model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0
        )[:, ids.shape[1]:]
        with steer(tiny_model, [Intervention(LAYER, add_vector(vector), positions=policy)]):
            output = tiny_model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False,
                pad_token_id=0, output_scores=True, return_dict_in_generate=True,
            )
    generated = output.sequences[:, ids.shape[1]:]
    assert not torch.equal(generated, unsteered), "the vector should change greedy outputs"
    for row, prompt in enumerate(prompts):
        expected_tokens, expected_logits = _reference_greedy(tiny_model, prompt, vector, policy)
        assert generated[row].tolist() == expected_tokens
        for step, logits in enumerate(expected_logits):
            torch.testing.assert_close(output.scores[step][row], logits, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("policy", ["prompt", "generated"])
def test_policy_with_right_padding(policy):
    model = tiny_models.build_model("llama")
    calls: list[tuple[int, int]] = []
    vector = _vector()

    def recording(hidden: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(hidden.shape[:2]))
        return hidden + vector

    prompts = _prompts()
    width = max(p.shape[0] for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, : prompt.shape[0]] = prompt
        mask[row, : prompt.shape[0]] = 1
    with torch.no_grad(), steer(model, [Intervention(LAYER, recording, positions=policy)]):
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=0)
    if policy == "prompt":
        assert calls == [(2, width)]
    else:
        assert calls == [(2, 1)] * 3


def test_explicit_mask_matches_unpadded_rows():
    model = tiny_models.build_model("qwen2")
    vector = _vector()
    prompts = _prompts()
    width = max(p.shape[0] for p in prompts)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    generated = torch.zeros(len(prompts), width, dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        ids[row, : prompt.shape[0]] = prompt
        generated[row, prompt.shape[0] - 3: prompt.shape[0]] = True

    interventions = [Intervention(LAYER, add_vector(vector), positions="generated")]
    with torch.no_grad(), steer(model, interventions) as handle:
        with handle.generated_positions(generated):
            batched = model(ids).logits
        for row, prompt in enumerate(prompts):
            with handle.generated_positions(generated[row: row + 1, : prompt.shape[0]]):
                single = model(prompt[None]).logits[0]
            torch.testing.assert_close(batched[row, : prompt.shape[0]], single, atol=2e-4, rtol=1e-4)
    with torch.no_grad():
        unsteered = model(prompts[0][None]).logits[0]
    prompt_part = PROMPT_LENGTHS[0] - 3
    torch.testing.assert_close(batched[0, :prompt_part], unsteered[:prompt_part], atol=2e-4, rtol=1e-4)
    assert not torch.allclose(batched[0, prompt_part:], unsteered[prompt_part:], atol=1e-2)


def test_explicit_mask_shape_checked():
    model = tiny_models.build_model("llama")
    ids = _prompts()[0][None]
    with steer(model, [Intervention(LAYER, add_vector(_vector()), positions="prompt")]) as handle:
        with handle.generated_positions(torch.zeros(1, 3, dtype=torch.bool)):
            with pytest.raises(CultureBenchError, match="mask has shape"):
                model(ids)


def test_unknown_policy_rejected():
    with pytest.raises(CultureBenchError, match="invalid positions 'middle'"):
        Intervention(0, add_vector(_vector()), positions="middle")
