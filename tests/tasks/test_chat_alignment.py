"""lm-eval's chat path and culturebench.prompts render and tokenize the same prompt alike."""

from __future__ import annotations

import pytest
from lm_eval.models.huggingface import HFLM

from culturebench.prompts import apply_chat, encode_prompt, mcq_prompt
from culturebench.tasks.docs import item_from_doc, item_to_doc
from tests import tiny_models
from tests.tasks.conftest import build_items


@pytest.fixture(scope="module")
def chat_lm(tmp_path_factory):
    path = tiny_models.save_pretrained_dir(tmp_path_factory.mktemp("tiny-chat"), "gemma2", chat_template=True)
    return HFLM(pretrained=str(path), device="cpu", dtype="float32")


def test_chat_text_matches_lm_eval(chat_lm):
    prompt = mcq_prompt(item_from_doc(item_to_doc(build_items("arabic")[0])))
    ours = apply_chat(chat_lm.tokenizer, prompt)
    assert ours == chat_lm.apply_chat_template([{"role": "user", "content": prompt}])


def test_token_ids_match_lm_eval_single_bos(chat_lm):
    text = apply_chat(chat_lm.tokenizer, "question")
    ids = encode_prompt(chat_lm.tokenizer, text)
    assert ids == chat_lm.tok_encode(text)
    assert ids.count(chat_lm.tokenizer.bos_token_id) == 1


def test_plain_prompt_ids_match_lm_eval(chat_lm):
    ids = encode_prompt(chat_lm.tokenizer, "question")
    assert ids == chat_lm.tok_encode("question")
    assert ids[0] == chat_lm.tokenizer.bos_token_id
