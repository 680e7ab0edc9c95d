"""The `doc_to_text`, `doc_to_target` and `doc_to_choice` functions of the `culture_*` tasks.

Each one rebuilds the item and calls `culturebench.prompts`, the builder that training and the
judge fallback use too, so lm-eval scores exactly the prompts the rest of culturebench shows.
"""

from __future__ import annotations

from typing import Any

from culturebench import prompts
from culturebench.tasks.docs import item_from_doc


def mcq_text(doc: dict[str, Any]) -> str:
    """Return the MCQ prompt: question, numbered options and the `\\boxed{k}` instruction."""
    return prompts.mcq_prompt(item_from_doc(doc))


def mcq_target(doc: dict[str, Any]) -> str:
    """Return the gold MCQ response, e.g. `\\boxed{2}`."""
    return prompts.mcq_gold(item_from_doc(doc))


def cloze_text(doc: dict[str, Any]) -> str:
    """Return the log-likelihood prompt: the question followed by `Answer:`."""
    return prompts.cloze_prompt(item_from_doc(doc))


def cloze_choices(doc: dict[str, Any]) -> list[str]:
    """Return the option texts; lm-eval puts the task's one-space `target_delimiter` before each."""
    return prompts.cloze_choices(item_from_doc(doc))


def answer_index(doc: dict[str, Any]) -> int:
    """Return the 0-based index of the correct option."""
    return int(doc["answer"])


def open_text(doc: dict[str, Any]) -> str:
    """Return the open-ended prompt (the question)."""
    return prompts.open_prompt(item_from_doc(doc))


def open_target(doc: dict[str, Any]) -> str:
    """Return the gold open-ended answer written for the item's country."""
    return doc["gold_open"]
