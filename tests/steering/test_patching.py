"""Activation patching: equality with full forwards patched by hand, pairing, the curve and the JSON."""

from __future__ import annotations

import math

import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.items import Item, Option
from culturebench.prompts import cloze_continuations, cloze_prompt, encode_prompt
from culturebench.steering.extract import encode_example
from culturebench.steering.patching import (
    encode_options, paired_items, patch_layers, patch_pair, summarise,
)
from tests import tiny_models

OPTIONS = (
    Option("Gazpacho frío con pan", "spain"),
    Option("Pozole rojo", "mexico"),
    Option("Clam chowder", "western"),
    Option("Sopa de maní con papas fritas", "bolivia"),
)


def _item(pair: str, variant: str, question: str, answer: int = 0, options=OPTIONS, country="spain") -> Item:
    return Item(
        id=f"{pair}-{variant}", pair_id=pair, language="spanish", country=country, topic="food",
        subtopic="soup", variant=variant, question=question, options=options, answer=answer, split="train",
    )


PAIRS = [
    (_item("es-1", "localized", "Soy de España y hace calor. ¿Qué sopa preparo para la cena de hoy?"),
     _item("es-1", "nonlocalized", "Hace calor. ¿Qué sopa preparo para la cena de hoy?")),
    (_item("es-2", "localized", "Soy de España. ¿Qué desayuno tomo?", answer=1),
     _item("es-2", "nonlocalized", "¿Qué desayuno tomo entre semana?", answer=1)),
]


def _block_output_hook(model, layer, hook):
    return model.model.layers[layer].register_forward_hook(hook)


def _reference_probabilities(model, tokenizer, item: Item, layer: int | None, state, normalise: bool):
    """Softmax over options from one full forward per option, patched with a raw forward hook."""
    prompt = cloze_prompt(item)
    prompt_length = len(encode_prompt(tokenizer, prompt))
    scores = []
    for continuation in cloze_continuations(item):
        ids, start = encode_example(tokenizer, prompt, continuation)
        assert start == prompt_length

        def patch(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            hidden = hidden.clone()
            hidden[0, prompt_length - 1] = state
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        handle = _block_output_hook(model, layer, patch) if layer is not None else None
        try:
            with torch.no_grad():
                log_probs = model(torch.tensor([ids]), use_cache=False).logits[0].log_softmax(-1)
        finally:
            if handle is not None:
                handle.remove()
        total = sum(float(log_probs[start - 1 + i, token]) for i, token in enumerate(ids[start:]))
        scores.append(total / len(continuation.strip()) if normalise else total)
    return torch.tensor(scores).softmax(0)


def _reference_state(model, tokenizer, item: Item, layer: int):
    ids = encode_prompt(tokenizer, cloze_prompt(item))
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True, use_cache=False).hidden_states
    return hidden[layer + 1][0, -1]


@pytest.mark.parametrize("normalise", [True, False])
def test_patch_matches_full_forwards(tiny_model, tiny_tokenizer, normalise):
    localized, nonlocalized = PAIRS[0]
    layers = [0, 1]
    effect = patch_pair(tiny_model, tiny_tokenizer, localized, nonlocalized, layers, normalise=normalise)

    unpatched = _reference_probabilities(tiny_model, tiny_tokenizer, nonlocalized, None, None, normalise)
    torch.testing.assert_close(torch.tensor(effect.nonlocalized), unpatched, atol=1e-5, rtol=1e-4)
    source = _reference_probabilities(tiny_model, tiny_tokenizer, localized, None, None, normalise)
    torch.testing.assert_close(torch.tensor(effect.localized), source, atol=1e-5, rtol=1e-4)
    for layer in layers:
        state = _reference_state(tiny_model, tiny_tokenizer, localized, layer)
        expected = _reference_probabilities(tiny_model, tiny_tokenizer, nonlocalized, layer, state, normalise)
        torch.testing.assert_close(torch.tensor(effect.patched[layer]), expected, atol=1e-5, rtol=1e-4)


def test_patch_leaves_no_hooks(tiny_tokenizer):
    model = tiny_models.build_model("llama")
    patch_pair(model, tiny_tokenizer, *PAIRS[0], [0, 3])
    assert all(not block._forward_hooks for block in model.model.layers)


def test_patching_own_state_changes_nothing(tiny_tokenizer):
    model = tiny_models.build_model("gemma3")
    item = PAIRS[0][1]
    effect = patch_pair(model, tiny_tokenizer, item, item, [0, 1, 2, 3])
    for layer in range(4):
        torch.testing.assert_close(torch.tensor(effect.patched[layer]), torch.tensor(effect.nonlocalized))


def test_last_layer_patch_gives_localized_first_token(tiny_tokenizer):
    """Patched at the top block, the first option token is predicted as from the localized prompt."""
    model = tiny_models.build_model("qwen2")
    localized, nonlocalized = PAIRS[0]
    options = [Option(text, country) for text, country in (("eat", "spain"), ("people", "mexico"), ("with", "western"))]
    localized = _item("x", "localized", localized.question, options=tuple(options))
    nonlocalized = _item("x", "nonlocalized", nonlocalized.question, options=tuple(options))
    encoded = encode_options(tiny_tokenizer, cloze_prompt(nonlocalized), cloze_continuations(nonlocalized))
    assert all(len(ids) == 1 for ids in encoded.continuations)
    effect = patch_pair(model, tiny_tokenizer, localized, nonlocalized, [3], normalise=False)
    torch.testing.assert_close(torch.tensor(effect.patched[3]), torch.tensor(effect.localized), atol=1e-5, rtol=1e-4)


def test_length_excludes_leading_space(tiny_tokenizer):
    encoded = encode_options(tiny_tokenizer, "Question?\nAnswer: ", [" Toast", " Ful"])
    assert encoded.characters == [5, 3]
    assert encoded.prefix + [encoded.last] == encode_prompt(tiny_tokenizer, "Question?\nAnswer:")


def test_paired_items_filters_and_sorts():
    mexico = (_item("es-0", "localized", "Soy de México.", country="mexico"),
              _item("es-0", "nonlocalized", "¿Qué como?", country="mexico"))
    lonely = _item("es-9", "localized", "Soy de España.")
    changed = _item("es-3", "nonlocalized", "¿Qué sopa?", answer=2)
    items = [PAIRS[1][1], PAIRS[0][0], *mexico, lonely, PAIRS[1][0], PAIRS[0][1],
             _item("es-3", "localized", "Soy de España, ¿qué sopa?"), changed]
    pairs = paired_items(items, country="spain")
    assert [(a.pair_id, a.variant, b.variant) for a, b in pairs] == [
        ("es-1", "localized", "nonlocalized"), ("es-2", "localized", "nonlocalized"),
    ]
    assert len(paired_items(items, language="spanish")) == 3


def test_curve_json_layout(tiny_tokenizer):
    model = tiny_models.build_model("gemma2")
    result = patch_layers(model, tiny_tokenizer, PAIRS, model_id="tiny")
    data = result.to_dict()
    assert data["kind"] == "activation_patching"
    assert data["layers"] == [0, 1, 2, 3]
    assert data["n"] == 2
    assert data["country"] == "spain"
    assert [point["layer"] for point in data["curve"]] == data["layers"]
    assert data["best_layer"] == max(data["curve"], key=lambda point: point["delta_correct"])["layer"]
    for point, delta in zip(data["curve"], data["delta_correct"]):
        assert point["delta_correct"] == delta
        low, high = point["delta_correct_ci"]
        assert low <= delta <= high
        assert -1.0 <= delta <= 1.0
    expected = sum(p.patched[2][p.correct] - p.nonlocalized[p.correct] for p in result.pairs) / 2
    assert math.isclose(data["delta_correct"][2], expected)
    assert data["baseline"]["p_western_nonlocalized"] is not None
    first = data["pairs"][0]
    assert first["pair_id"] == "es-1"
    assert first["patched"]["2"] == result.pairs[0].patched[2]
    shift = sum(0.5 * sum(abs(a - b) for a, b in zip(p.patched[2], p.nonlocalized)) for p in result.pairs) / 2
    assert math.isclose(data["curve"][2]["shift"], shift)
    assert data["curve"][2]["shift_ci"][0] <= shift <= data["curve"][2]["shift_ci"][1]
    assert 0.0 <= data["baseline"]["shift_localized"] <= 1.0


def test_summarise_without_western_option():
    from culturebench.steering.patching import PairEffect

    effect = PairEffect("p", correct=0, western=None, localized=[0.6, 0.4], nonlocalized=[0.5, 0.5],
                        patched={0: [0.7, 0.3]})
    (point,) = summarise([effect], [0])
    assert math.isclose(point.delta_correct, 0.2)
    assert math.isclose(point.shift, 0.2)
    assert point.delta_western is None
    assert point.delta_western_ci is None


def test_patch_layers_rejects_bad_input(tiny_tokenizer):
    model = tiny_models.build_model("llama")
    with pytest.raises(CultureBenchError, match="no localized"):
        patch_layers(model, tiny_tokenizer, [])
    with pytest.raises(CultureBenchError, match="out of range"):
        patch_layers(model, tiny_tokenizer, PAIRS[:1], layers=[4])
