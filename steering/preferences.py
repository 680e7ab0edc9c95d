"""Preference pairs for BiPO/YaPO training, in the form the evaluation scores.

Protocols (`build_pairs(protocol=...)`), with prompts from `culturebench.prompts` so training
reads the text evaluation shows:

- `cloze` (base models, scored by log-likelihood): prompt = `cloze_prompt(item)`; chosen = the
  correct option as a cloze continuation; rejected = the wrong option the unsteered model
  ranks highest by log-likelihood per character (lm-eval's `acc_norm`). The Western control
  option is a candidate unless `include_western=False`. Every item gives a pair.
- `boxed` (instruction-tuned models): prompt = the chat-formatted `mcq_prompt(item)`; chosen =
  a one-line rationale (the correct option's number and text) followed by `\\boxed{k}`;
  rejected = the model's own greedy answer. Items the model already answers correctly (by
  `extraction.extract_choice` without a judge) and empty answers are dropped.
- `open` (open-ended items): prompt = the chat-formatted `open_prompt(item)`; chosen = the
  gold answer; rejected = the model's greedy answer. Items without a gold answer, and answers
  equal to it, are dropped.
- `auto`: `boxed` when the tokenizer has a chat template, else `cloze`.

Pairs can also come from a file (`pair_files.load_pairs`): given prompt/chosen/rejected
columns, a Deep-Culture-Lense export with `rejected_*` columns, or BiPO's behaviour layout.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from culturebench.errors import CultureBenchError
from culturebench.extraction import extract_choice
from culturebench.items import Item
from culturebench.prompts import (
    CLOZE_DELIMITER, apply_chat, boxed_answer, cloze_choices, cloze_continuations, cloze_prompt, mcq_prompt,
    open_prompt,
)
from culturebench.steering.responses import ResponseCache, generate_greedy, score_continuations

logger = logging.getLogger(__name__)

PROTOCOLS = ("auto", "cloze", "boxed", "open")
# Greedy answers longer than this are cut: a preference on their first tokens is enough to train on.
MAX_NEW_TOKENS = {"boxed": 64, "open": 96}


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a preferred (`chosen`) and a dispreferred (`rejected`) continuation.

    The continuations are appended to the prompt as they are (cloze continuations start with a
    space). `source` names where the pair came from (an item id or a file row).
    """

    prompt: str
    chosen: str
    rejected: str
    source: str = ""


def resolve_protocol(protocol: str, tokenizer) -> str:
    """Return the concrete protocol for `protocol` (`auto` picks by the tokenizer's chat template)."""
    if protocol not in PROTOCOLS:
        raise CultureBenchError(f"invalid protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    if protocol == "auto":
        return "boxed" if getattr(tokenizer, "chat_template", None) else "cloze"
    return protocol


def build_pairs(
    model: nn.Module,
    tokenizer,
    items: Sequence[Item],
    *,
    protocol: str = "auto",
    cache_path: str | Path | None = None,
    batch_size: int = 8,
    include_western: bool = True,
    max_new_tokens: int | None = None,
) -> list[PreferencePair]:
    """Build preference pairs from benchmark items with the unsteered model's own answers.

    Args:
        model: the model whose answers become the rejected side (run unsteered).
        tokenizer: its tokenizer (its chat template decides `auto`).
        items: the items, e.g. the train split of one country and setting.
        protocol: `auto`, `cloze`, `boxed` or `open` (see the module docstring).
        cache_path: jsonl file caching scores and generations across runs (None: memory only).
        batch_size: items per forward or generate call.
        include_western: let the Western control option be the rejected one (cloze).
        max_new_tokens: cut greedy answers after this many tokens (default 64 boxed, 96 open).

    Example:
        >>> pairs = build_pairs(model, tokenizer, train_items, cache_path="pairs-cache.jsonl")
    """
    protocol = resolve_protocol(protocol, tokenizer)
    cache = ResponseCache(cache_path, model)
    if protocol == "cloze":
        pairs = _cloze_pairs(model, tokenizer, items, cache, batch_size, include_western)
    elif protocol == "boxed":
        pairs = _boxed_pairs(model, tokenizer, items, cache, batch_size, max_new_tokens or MAX_NEW_TOKENS["boxed"])
    else:
        pairs = _open_pairs(model, tokenizer, items, cache, batch_size, max_new_tokens or MAX_NEW_TOKENS["open"])
    logger.info("%s protocol: %d pairs from %d items", protocol, len(pairs), len(items))
    return pairs


def _cloze_pairs(model, tokenizer, items, cache, batch_size, include_western) -> list[PreferencePair]:
    requests = [(cloze_prompt(item), cloze_continuations(item)) for item in items]
    scores = score_continuations(model, tokenizer, requests, cache=cache, batch_size=batch_size)
    pairs = []
    for item, item_scores in zip(items, scores):
        lengths = [max(len(choice), 1) for choice in cloze_choices(item)]
        candidates = [index for index, option in enumerate(item.options)
                      if index != item.answer and (include_western or not option.is_western)]
        if not candidates:
            logger.warning("item %s has no wrong option to reject; skipping it", item.id)
            continue
        rejected = max(candidates, key=lambda index: item_scores[index] / lengths[index])
        continuations = cloze_continuations(item)
        pairs.append(PreferencePair(cloze_prompt(item), continuations[item.answer], continuations[rejected], item.id))
    return pairs


def boxed_chosen(item: Item) -> str:
    """Return the gold response of the boxed protocol: the correct option restated, then `\\boxed{k}`."""
    number = item.answer + 1
    return f"Option {number}: {item.correct_option.text.strip()}\n{boxed_answer(item.answer)}"


def _boxed_pairs(model, tokenizer, items, cache, batch_size, max_new_tokens) -> list[PreferencePair]:
    prompts = [apply_chat(tokenizer, mcq_prompt(item)) for item in items]
    answers = generate_greedy(model, tokenizer, prompts, cache=cache, max_new_tokens=max_new_tokens,
                              batch_size=batch_size)
    pairs, correct, empty = [], 0, 0
    for item, prompt, answer in zip(items, prompts, answers):
        if not answer.strip():
            empty += 1
            continue
        extraction = extract_choice(answer, [option.text for option in item.options], question=item.question,
                                    judge=None)
        if extraction.index == item.answer:
            correct += 1
            continue
        pairs.append(PreferencePair(prompt, boxed_chosen(item), answer, item.id))
    logger.info("boxed protocol: dropped %d items answered correctly and %d empty answers", correct, empty)
    return pairs


def _open_pairs(model, tokenizer, items, cache, batch_size, max_new_tokens) -> list[PreferencePair]:
    with_gold = [item for item in items if item.gold_open.strip()]
    if len(with_gold) < len(items):
        logger.warning("%d items have no open-ended gold answer; skipping them", len(items) - len(with_gold))
    prompts = [apply_chat(tokenizer, open_prompt(item)) for item in with_gold]
    answers = generate_greedy(model, tokenizer, prompts, cache=cache, max_new_tokens=max_new_tokens,
                              batch_size=batch_size)
    # A base model continues the question text, so the gold answer follows it after a space.
    delimiter = "" if getattr(tokenizer, "chat_template", None) else CLOZE_DELIMITER
    pairs = []
    for item, prompt, answer in zip(with_gold, prompts, answers):
        gold = delimiter + item.gold_open.strip()
        if not answer.strip() or answer.strip() == gold.strip():
            continue
        pairs.append(PreferencePair(prompt, gold, answer, item.id))
    return pairs


def pairs_sha256(pairs: Sequence[PreferencePair]) -> str:
    """Hash the pairs' text (recorded in vector files as the training data hash)."""
    payload = json.dumps([[pair.prompt, pair.chosen, pair.rejected] for pair in pairs], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def save_pairs(pairs: Sequence[PreferencePair], path: str | Path) -> Path:
    """Write pairs as jsonl (`prompt`, `chosen`, `rejected`, `source`), atomically."""
    from culturebench.steering.jsonl_files import rewrite_jsonl

    rewrite_jsonl(path, [asdict(pair) for pair in pairs])
    return Path(path)
