"""Fixtures for the task tests: a small benchmark file in culturebench's item schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from culturebench.items import LANGUAGE_COUNTRIES, WESTERN, Item, Option

QUESTIONS = (
    ("food", "breakfast", "What do people usually eat for breakfast on a weekday?"),
    ("greetings", "elders", "How do you greet an older neighbour in the morning?"),
    ("holidays", "gifts", "What do children receive on the main holiday of the year?"),
)


def build_items(language: str = "arabic", questions=QUESTIONS, split: str = "test") -> list[Item]:
    """Build items for every country of `language`, in both variants, one option per country."""
    countries = LANGUAGE_COUNTRIES[language]
    items = []
    for number, (topic, subtopic, question) in enumerate(questions):
        # Option texts of different lengths make length-normalised scoring differ from raw scoring.
        options = tuple(
            Option(f"{topic} as done in {country}" + " indeed" * index, country) for index, country in enumerate(countries)
        )
        options += (Option(f"western {topic}", WESTERN),)
        for answer, country in enumerate(countries):
            pair_id = f"{language}-{country}-{number:03d}"
            for variant, text in (
                ("localized", f"I live in {country}. {question}"),
                ("nonlocalized", question),
            ):
                items.append(
                    Item(
                        id=f"{pair_id}-{variant}",
                        pair_id=pair_id,
                        language=language,
                        country=country,
                        topic=topic,
                        subtopic=subtopic,
                        variant=variant,
                        question=text,
                        options=options,
                        answer=answer,
                        gold_open=options[answer].text,
                        split=split,
                    )
                )
    return items


def write_jsonl(items: list[Item], path: Path) -> Path:
    path.write_text("".join(json.dumps(item.to_dict(), ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def arabic_data(tmp_path_factory) -> Path:
    """A jsonl file with 24 Arabic-group test items (4 countries x 3 questions x 2 variants)."""
    return write_jsonl(build_items("arabic"), tmp_path_factory.mktemp("data") / "arabic.jsonl")
