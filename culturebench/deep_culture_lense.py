"""Read and write the Deep-Culture-Lense layout (the YaPO paper's dataset on the Hugging Face hub).

Columns read: `prompt-mcq` (question followed by numbered options), `chosen-mcq` (gold response
whose last `\\boxed{k}` names the correct option, 1-based), `prompt_open_ended`,
`chosen_open_ended`, `country`, `localization_status` (`localized`, `nolocalized` or
`nonlocalized`) and optional `id`, `topic`, `subtopic`. Splits are `train` and `test`.

NOTE: the exact text layout of `prompt-mcq` is inferred from the reference code, not from a
published specification; options are parsed as lines such as `1. text`, `1) text` or `(1) text`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from culturebench.errors import CultureBenchError
from culturebench.items import COUNTRY_LANGUAGE, Item, Option
from culturebench.validation import Problem

logger = logging.getLogger(__name__)

HUB_REPO = "MBZUAI-Paris/Deep-Culture-Lense"
REQUIRED_COLUMNS = ("prompt-mcq", "chosen-mcq", "country", "localization_status")
VARIANT_NAMES = {
    "localized": "localized",
    "nolocalized": "nonlocalized",
    "nonlocalized": "nonlocalized",
    "non-localized": "nonlocalized",
    "not_localized": "nonlocalized",
}
COUNTRY_ALIASES = {
    "saudi": "ksa", "saudi arabia": "ksa", "ksa": "ksa",
    "egypt": "egypt", "morocco": "morocco",
    "levant": "levantine", "levantine": "levantine",
    "usa": "usa", "us": "usa", "united states": "usa", "america": "usa",
    "uk": "uk", "united kingdom": "uk", "britain": "uk", "england": "uk",
    "australia": "australia",
    "bolivia": "bolivia", "mexico": "mexico", "spain": "spain",
    "brazil": "brazil", "mozambique": "mozambique", "portugal": "portugal",
    "india": "india", "nepal": "nepal",
}
OPTION_LINE = re.compile(r"^\s*\(?(\d{1,2})[.):]\s*(\S.*)$")
BOXED = re.compile(r"\\(?:boxed|fbox)\{\s*(\d+)\s*\}")


def is_layout(columns: list[str]) -> bool:
    """Return True when `columns` contain the Deep-Culture-Lense MCQ columns."""
    return "prompt-mcq" in columns and "chosen-mcq" in columns


def load_hub(repo: str = HUB_REPO) -> Any:
    """Download the dataset from the hub with `datasets`; raise a clear error when offline."""
    import datasets

    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise CultureBenchError(
            f"cannot load {repo!r} from the Hugging Face hub: offline mode is set (HF_HUB_OFFLINE=1). "
            "Download it on a connected machine (datasets.load_dataset(...).save_to_disk or the hub's "
            "parquet files) and pass the local folder with --data PATH"
        )
    try:
        return datasets.load_dataset(repo)
    except (OSError, ConnectionError, ValueError) as error:
        raise CultureBenchError(
            f"cannot load {repo!r} from the Hugging Face hub ({type(error).__name__}: {error}). "
            "If this machine is offline, download the dataset elsewhere and pass the local folder with --data PATH"
        ) from error


def load_local(path: Path) -> Any:
    """Load a local copy laid out like the hub repository (a folder) or one parquet/jsonl file."""
    import datasets

    if path.is_dir():
        return datasets.load_dataset(str(path))
    builder = "parquet" if path.suffix == ".parquet" else "json"
    split = "train" if "train" in path.name else "test"
    return datasets.load_dataset(builder, data_files={split: str(path)})


def rows_to_items(dataset_dict: Any, origin: str) -> tuple[list[tuple[Item, str, str]], list[Problem]]:
    """Map every row of a `datasets.DatasetDict` to an item; return items with positions and problems."""
    triples: list[tuple[Item, str, str]] = []
    problems: list[Problem] = []
    for split in dataset_dict:
        columns = dataset_dict[split].column_names
        missing = [column for column in REQUIRED_COLUMNS if column not in columns]
        if missing:
            problems.append(Problem(origin, f"{split}:*", missing[0], f"missing column(s) {missing}"))
            continue
        for index, row in enumerate(dataset_dict[split]):
            position = f"{split}:{index}"
            try:
                triples.append((row_to_item(row, split, index), origin, position))
            except _RowError as error:
                problems.append(Problem(origin, position, error.field, error.message))
    return triples, problems


def row_to_item(row: dict[str, Any], split: str, index: int) -> Item:
    """Map one Deep-Culture-Lense row to an item (split names other than train map to test)."""
    country_name = str(row.get("country") or "").strip()
    country = COUNTRY_ALIASES.get(country_name.lower())
    if country is None:
        raise _RowError("country", f"unknown country {country_name!r}; known: {sorted(set(COUNTRY_ALIASES.values()))}")
    status = str(row.get("localization_status") or "").strip().lower()
    if status not in VARIANT_NAMES:
        raise _RowError("localization_status", f"unknown value {status!r}; expected localized or nolocalized")
    question, options = parse_mcq_prompt(str(row.get("prompt-mcq") or ""))
    boxed = BOXED.findall(str(row.get("chosen-mcq") or ""))
    if not boxed:
        raise _RowError("chosen-mcq", "no \\boxed{k} answer found")
    item_id = str(row.get("id") or f"dcl-{split}-{index}")
    return Item(
        id=item_id,
        pair_id=item_id,
        language=COUNTRY_LANGUAGE[country],
        country=country,
        topic=str(row.get("topic") or "unknown"),
        subtopic=str(row.get("subtopic") or ""),
        variant=VARIANT_NAMES[status],
        question=question,
        options=tuple(Option(text=text) for text in options),
        answer=int(boxed[-1]) - 1,
        gold_open=str(row.get("chosen_open_ended") or ""),
        split="train" if split == "train" else "test",
        source="deep-culture-lense",
        seed_id=item_id,
    )


def parse_mcq_prompt(prompt: str) -> tuple[str, list[str]]:
    """Split an MCQ prompt into its question and its numbered options (numbered from 1)."""
    question_lines: list[str] = []
    options: list[str] = []
    for line in prompt.splitlines():
        match = OPTION_LINE.match(line)
        if match and int(match.group(1)) == len(options) + 1:
            options.append(match.group(2).strip())
        elif not options:
            question_lines.append(line)
    if not options:
        raise _RowError("prompt-mcq", "no numbered options (lines such as '1. ...') found")
    return "\n".join(question_lines).strip(), options


def item_to_row(item: Item) -> dict[str, Any]:
    """Render an item as a Deep-Culture-Lense row (the inverse of `row_to_item` up to wording)."""
    numbered = "\n".join(f"{number}. {option.text}" for number, option in enumerate(item.options, start=1))
    return {
        "id": item.id,
        "prompt-mcq": f"{item.question}\n\n{numbered}\n\nAnswer with the option number as \\boxed{{k}}.",
        "chosen-mcq": f"\\boxed{{{item.answer + 1}}}",
        "prompt_open_ended": item.question,
        "chosen_open_ended": item.gold_open,
        "country": item.country,
        "localization_status": "localized" if item.variant == "localized" else "nolocalized",
        "topic": item.topic,
        "subtopic": item.subtopic,
    }


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
