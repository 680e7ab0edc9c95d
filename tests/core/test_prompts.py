"""Prompt building and chat-template handling."""

from __future__ import annotations

import copy

import pytest

from culturebench.items import Item, Option
from culturebench.prompts import (
    MCQ_INSTRUCTION,
    apply_chat,
    boxed_answer,
    cloze_choices,
    cloze_continuations,
    cloze_prompt,
    encode_prompt,
    format_options,
    mcq_gold,
    mcq_prompt,
    open_prompt,
)

# A template that raises on a system message, as Gemma 2's does.
NO_SYSTEM_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture
def item():
    return Item(
        id="ar-egypt-0001-nonloc",
        pair_id="ar-egypt-0001",
        language="arabic",
        country="egypt",
        topic="food",
        subtopic="breakfast",
        variant="nonlocalized",
        question="  ماذا تأكل في الفطور؟ ",
        options=(Option("فول مدمس", "egypt"), Option("خبز", "ksa"), Option("Pancakes", "western")),
        answer=0,
        gold_open="فول مدمس",
    )


def test_mcq_prompt_layout(item):
    prompt = mcq_prompt(item)
    assert prompt == f"ماذا تأكل في الفطور؟\n\n1. فول مدمس\n2. خبز\n3. Pancakes\n\n{MCQ_INSTRUCTION}"
    assert "\\boxed{k}" in prompt


def test_gold_is_boxed_one_based(item):
    assert mcq_gold(item) == "\\boxed{1}"
    assert boxed_answer(3) == "\\boxed{4}"
    with pytest.raises(ValueError):
        boxed_answer(-1)


def test_lettered_options():
    assert format_options(["a", "b"], lettered=True) == "A. a\nB. b"


def test_cloze_continuations_leading_space(item):
    assert cloze_prompt(item) == "ماذا تأكل في الفطور؟\nAnswer:"
    assert cloze_choices(item) == ["فول مدمس", "خبز", "Pancakes"]
    assert cloze_continuations(item) == [" فول مدمس", " خبز", " Pancakes"]


def test_open_prompt_is_question(item):
    assert open_prompt(item) == "ماذا تأكل في الفطور؟"


def test_plain_prompt_without_template(tiny_tokenizer):
    assert apply_chat(tiny_tokenizer, "question") == "question"
    assert apply_chat(tiny_tokenizer, "question", system="Be brief.") == "Be brief.\n\nquestion"


def test_chat_template_with_system(tiny_chat_tokenizer):
    text = apply_chat(tiny_chat_tokenizer, "question", system="Be brief.")
    assert text == "<bos><|system|>Be brief.<|end|><|user|>question<|end|><|assistant|>"


def test_system_folded_when_template_rejects_it(tiny_chat_tokenizer):
    rejecting = copy.deepcopy(tiny_chat_tokenizer)
    rejecting.chat_template = NO_SYSTEM_TEMPLATE
    text = apply_chat(rejecting, "question", system="Be brief.")
    assert text == "<bos><|user|>Be brief.\n\nquestion<|end|><|assistant|>"


def test_single_bos_after_encoding(tiny_chat_tokenizer, tiny_tokenizer):
    bos = tiny_chat_tokenizer.bos_token_id
    chat_ids = encode_prompt(tiny_chat_tokenizer, apply_chat(tiny_chat_tokenizer, "question"))
    assert chat_ids[0] == bos
    assert chat_ids.count(bos) == 1
    plain_ids = encode_prompt(tiny_tokenizer, apply_chat(tiny_tokenizer, "question"))
    assert plain_ids[0] == bos
    assert plain_ids.count(bos) == 1
