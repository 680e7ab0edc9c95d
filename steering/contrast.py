"""Contrast sets for CAA and SAS: prompts with answers to move towards and away from.

From benchmark items, the positive answer is the item's gold option and the negatives are the
options of the other countries of its language group (the Western control option only with
`include_western`). Prompts come from `culturebench.prompts`, so extraction reads the same
text that evaluation scores:
- `cloze` (base models): `cloze_prompt(item)` and each option as a cloze continuation;
- `mcq` (chat models): `apply_chat(tokenizer, mcq_prompt(item))` and the `\\boxed{k}` answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from culturebench.errors import CultureBenchError
from culturebench.items import Item
from culturebench.prompts import apply_chat, boxed_answer, cloze_continuations, cloze_prompt, mcq_prompt

FORMATS = ("cloze", "mcq")
SETTINGS = ("localized", "nonlocalized", "both")


@dataclass(frozen=True)
class ContrastGroup:
    """One prompt with its positive and negative answer continuations (text appended to the prompt)."""

    prompt: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def select_items(items, *, country: str, setting: str) -> list[Item]:
    """Return the items of `country` in `setting` (`localized`, `nonlocalized` or `both`)."""
    if setting not in SETTINGS:
        raise CultureBenchError(f"invalid setting {setting!r}: expected one of {', '.join(SETTINGS)}")
    variants = ("localized", "nonlocalized") if setting == "both" else (setting,)
    selected = [item for item in items if item.country == country and item.variant in variants]
    if not selected:
        raise CultureBenchError(f"no items for country {country!r} in setting {setting!r}; check the data and split")
    return selected


def groups_from_items(items, *, format: str = "cloze", tokenizer=None, include_western: bool = False) -> list[ContrastGroup]:
    """Build one contrast group per item: the gold option against the other countries' options."""
    if format not in FORMATS:
        raise CultureBenchError(f"invalid format {format!r}: expected cloze or mcq")
    if format == "mcq" and tokenizer is None:
        raise CultureBenchError("the mcq format needs the model's tokenizer for its chat template")

    groups = []
    for item in items:
        negative_indices = [
            index for index, option in enumerate(item.options)
            if index != item.answer and (include_western or not option.is_western)
        ]
        if not negative_indices:
            continue
        if format == "cloze":
            continuations = cloze_continuations(item)
            groups.append(ContrastGroup(
                prompt=cloze_prompt(item),
                positives=(continuations[item.answer],),
                negatives=tuple(continuations[index] for index in negative_indices),
            ))
        else:
            groups.append(ContrastGroup(
                prompt=apply_chat(tokenizer, mcq_prompt(item)),
                positives=(boxed_answer(item.answer),),
                negatives=tuple(boxed_answer(index) for index in negative_indices),
            ))
    if not groups:
        raise CultureBenchError("no contrast pairs: every selected item lacks a negative option")
    return groups


def groups_from_pairs(path: str | Path) -> list[ContrastGroup]:
    """Read given preference pairs from a jsonl file with `prompt`, `chosen` and `rejected` fields.

    The answers are appended to the prompt as they are, so include any leading space.
    """
    path = Path(path)
    if not path.is_file():
        raise CultureBenchError(f"pairs file {path} not found")
    groups = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                groups.append(ContrastGroup(str(record["prompt"]), (str(record["chosen"]),), (str(record["rejected"]),)))
            except (ValueError, KeyError, TypeError) as error:
                raise CultureBenchError(
                    f"{path}:{number}: expected a JSON object with prompt, chosen and rejected ({error})"
                ) from error
    if not groups:
        raise CultureBenchError(f"pairs file {path} has no pairs")
    return groups


def groups_sha256(groups: list[ContrastGroup]) -> str:
    """Hash the contrast data (recorded in vector files as the training data hash)."""
    payload = json.dumps([asdict(group) for group in groups], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
