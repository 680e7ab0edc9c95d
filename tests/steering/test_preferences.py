"""Preference pairs: cloze ranking, on-policy boxed and open answers, the response cache, pair files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.items import Item, Option
from culturebench.prompts import apply_chat, cloze_prompt, mcq_prompt
from culturebench.steering.extract import encode_example
from culturebench.steering.pair_files import behaviour_prompt, load_pairs
from culturebench.steering.preferences import (
    PreferencePair, boxed_chosen, build_pairs, pairs_sha256, resolve_protocol, save_pairs,
)
from culturebench.steering.responses import ResponseCache, generate_greedy
from tests import tiny_models


def _item(number: int, variant: str = "nonlocalized", answer: int = 0, gold: str = "") -> Item:
    return Item(
        id=f"es-{number}-spain-{variant}", pair_id=f"es-{number}-spain", language="spanish", country="spain",
        topic="food", subtopic="soup", variant=variant, question=f"¿Qué sopa preparo el día {number}?",
        options=(Option("Gazpacho", "spain"), Option("Pozole rojo", "mexico"), Option("Clam chowder", "western"),
                 Option("Sopa de maní", "bolivia")),
        answer=answer, gold_open=gold, split="train",
    )


def _line_count(path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _manual_scores(model, tokenizer, item):
    scores = []
    for option in item.options:
        ids, start = encode_example(tokenizer, cloze_prompt(item), " " + option.text)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].float()
        log_probs = torch.log_softmax(logits[:-1], -1)
        scores.append(sum(float(log_probs[position - 1, ids[position]]) for position in range(start, len(ids))))
    return scores


def test_cloze_rejects_top_wrong_option(tiny_tokenizer, tmp_path):
    model = tiny_models.build_model("gemma3")
    items = [_item(number, answer=number % 4) for number in range(5)]
    cache = tmp_path / "cache.jsonl"
    pairs = build_pairs(model, tiny_tokenizer, items, protocol="cloze", cache_path=cache, batch_size=2)

    assert len(pairs) == 5
    for item, pair in zip(items, pairs):
        scores = _manual_scores(model, tiny_tokenizer, item)
        normalized = [score / len(option.text) for score, option in zip(scores, item.options)]
        wrong = [index for index in range(4) if index != item.answer]
        expected = max(wrong, key=lambda index: normalized[index])
        assert pair.prompt == cloze_prompt(item)
        assert pair.chosen == " " + item.options[item.answer].text
        assert pair.rejected == " " + item.options[expected].text
        assert pair.source == item.id
    assert _line_count(cache) == 5

    again = build_pairs(model, tiny_tokenizer, items, protocol="cloze", cache_path=cache)
    assert again == pairs
    assert _line_count(cache) == 5


def test_cloze_can_exclude_western(tiny_tokenizer):
    model = tiny_models.build_model("llama")
    items = [_item(number) for number in range(6)]
    pairs = build_pairs(model, tiny_tokenizer, items, protocol="cloze", include_western=False)
    assert all(pair.rejected != " Clam chowder" for pair in pairs)


def test_boxed_pairs_are_on_policy_and_drop_correct(tiny_chat_tokenizer, tmp_path):
    model = tiny_models.build_model("gemma2")
    items = [_item(number, answer=1) for number in range(3)]
    cache_path = tmp_path / "cache.jsonl"
    pairs = build_pairs(model, tiny_chat_tokenizer, items, protocol="auto", cache_path=cache_path,
                        batch_size=2, max_new_tokens=6)
    prompts = [apply_chat(tiny_chat_tokenizer, mcq_prompt(item)) for item in items]
    cache = ResponseCache(cache_path, model)
    answers = generate_greedy(model, tiny_chat_tokenizer, prompts, cache=cache, max_new_tokens=6)
    assert _line_count(cache_path) == 3
    kept = {pair.source: pair for pair in pairs}
    for item, prompt, answer in zip(items, prompts, answers):
        if item.id in kept:
            assert kept[item.id].prompt == prompt
            assert kept[item.id].rejected == answer
            assert kept[item.id].chosen == "Option 2: Pozole rojo\n\\boxed{2}"

    # The cache is the record of what the model answered: make the first answer correct, the second empty.
    keys = [cache.key("greedy", [prompt, {"max_new_tokens": 6, "stop": list(cache_stop())}]) for prompt in prompts]
    records = [{"key": keys[0], "value": "Pozole. \\boxed{2}"}, {"key": keys[1], "value": "  "},
               {"key": keys[2], "value": "\\boxed{1}"}]
    cache_path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    pairs = build_pairs(model, tiny_chat_tokenizer, items, protocol="boxed", cache_path=cache_path, max_new_tokens=6)
    assert [pair.source for pair in pairs] == [items[2].id]
    assert pairs[0].rejected == "\\boxed{1}"
    assert _line_count(cache_path) == 3


def cache_stop():
    from culturebench.steering.responses import STOP_SEQUENCES

    return STOP_SEQUENCES


def test_open_pairs_use_gold_answer(tiny_tokenizer):
    model = tiny_models.build_model("qwen2")
    items = [_item(1, gold="Gazpacho frío con pan"), _item(2)]
    pairs = build_pairs(model, tiny_tokenizer, items, protocol="open", max_new_tokens=5)
    assert [pair.source for pair in pairs] == [items[0].id]
    assert pairs[0].chosen == " Gazpacho frío con pan"
    assert pairs[0].prompt == items[0].question
    assert pairs[0].rejected.strip()


def test_protocol_resolution(tiny_tokenizer, tiny_chat_tokenizer):
    assert resolve_protocol("auto", tiny_tokenizer) == "cloze"
    assert resolve_protocol("auto", tiny_chat_tokenizer) == "boxed"
    with pytest.raises(CultureBenchError, match="invalid protocol 'mcq'"):
        resolve_protocol("mcq", tiny_tokenizer)
    assert boxed_chosen(_item(1, answer=3)) == "Option 4: Sopa de maní\n\\boxed{4}"


def test_bipo_layout_pairs(shared_data, tiny_tokenizer, tiny_chat_tokenizer):
    path = shared_data / "bipo" / "wealth-seeking" / "train.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    complete = frame[(frame != "").all(axis=1)]
    pairs = load_pairs(path, tiny_tokenizer)
    assert len(pairs) == len(complete) > 600
    assert pairs[0].prompt == f"{frame.question[0].strip()}\nAnswer:"
    assert pairs[0].chosen == " " + frame.matching[0].strip()
    assert pairs[0].rejected == " " + frame.not_matching[0].strip()
    assert pairs[0].source == "train.csv:2"

    chat_pairs = load_pairs(path, tiny_chat_tokenizer)
    assert chat_pairs[0].prompt == apply_chat(tiny_chat_tokenizer, frame.question[0])
    assert behaviour_prompt(tiny_chat_tokenizer, "Q?").endswith("<|assistant|>")


def test_given_rejected_columns(tmp_path, tiny_chat_tokenizer):
    rows = [
        {"prompt-mcq": "Q1\n1. a\n2. b", "chosen-mcq": "\\boxed{1}", "rejected-mcq": "\\boxed{2}",
         "prompt_open_ended": "Q1?", "chosen_open_ended": "gold", "rejected_open_ended": "other",
         "country": "Morocco", "localization_status": "nolocalized"},
        {"prompt-mcq": "Q2\n1. a\n2. b", "chosen-mcq": "\\boxed{2}", "rejected-mcq": "\\boxed{1}",
         "prompt_open_ended": "", "chosen_open_ended": "", "rejected_open_ended": "",
         "country": "Morocco", "localization_status": "localized"},
        {"prompt-mcq": "Q3\n1. a\n2. b", "chosen-mcq": "\\boxed{2}", "rejected-mcq": "\\boxed{1}",
         "country": "Egypt", "localization_status": "localized"},
    ]
    path = tmp_path / "dcl.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    pairs = load_pairs(path, tiny_chat_tokenizer, country="morocco")
    assert [(pair.chosen, pair.rejected) for pair in pairs] == [
        ("\\boxed{1}", "\\boxed{2}"), ("gold", "other"), ("\\boxed{2}", "\\boxed{1}")]
    assert pairs[0].prompt == apply_chat(tiny_chat_tokenizer, "Q1\n1. a\n2. b")
    localized = load_pairs(path, tiny_chat_tokenizer, country="morocco", setting="localized")
    assert [pair.source for pair in localized] == ["dcl.jsonl:2"]


def test_plain_pairs_and_errors(tmp_path, tiny_tokenizer):
    path = tmp_path / "pairs.csv"
    pd.DataFrame([{"prompt": "Q?", "chosen": " A", "rejected": " B"}]).to_csv(path, index=False)
    pairs = load_pairs(path, tiny_tokenizer)
    assert [(pair.prompt, pair.chosen, pair.rejected) for pair in pairs] == [("Q?", " A", " B")]
    assert pairs_sha256(pairs) != pairs_sha256([PreferencePair("Q?", " A", " C")])

    pd.DataFrame([{"question": "Q?", "answer": "A"}]).to_csv(path, index=False)
    with pytest.raises(CultureBenchError, match="expected one of"):
        load_pairs(path, tiny_tokenizer)
    pd.DataFrame([{"prompt": "Q?", "chosen": "", "rejected": " B"}]).to_csv(path, index=False)
    with pytest.raises(CultureBenchError, match="no pairs .*pairs.csv:2: field 'chosen' is missing or empty"):
        load_pairs(path, tiny_tokenizer)
    with pytest.raises(CultureBenchError, match="not found"):
        load_pairs(tmp_path / "missing.jsonl", tiny_tokenizer)


def test_saved_pairs_read_back(tmp_path, tiny_tokenizer):
    pairs = [PreferencePair("Q1?\nAnswer:", " A", " B", "item-1"), PreferencePair("Q2 ٣?", "\\boxed{3}", "x", "item-2")]
    path = save_pairs(pairs, tmp_path / "pairs.jsonl")
    loaded = load_pairs(path, tiny_tokenizer)
    assert [(p.prompt, p.chosen, p.rejected) for p in loaded] == [(p.prompt, p.chosen, p.rejected) for p in pairs]
    assert pairs_sha256(loaded) == pairs_sha256(pairs)
