"""Expand the bundled seed files (one YAML file per language group) into benchmark items.

A seed is one everyday-life question written for every country of its language group: per
country a localized form (names the country), a non-localized form (dialect and situation
cues only) and an open-ended gold answer, plus one option per country and a Western control
option. Each (seed, country) becomes a localized and a non-localized MCQ item sharing the
seed's options, shuffled once per seed with a fixed seed so files and item ids stay stable.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from culturebench.errors import ValidationError
from culturebench.items import LANGUAGE_COUNTRIES, WESTERN, Item, Option

QUESTION_FIELDS = ("localized", "nonlocalized", "answer")
# Seeds are assigned to splits in file order: positions 1 and 3 of every 5 go to test (40%).
TEST_POSITIONS = (1, 3)


def seed_files() -> list[Path]:
    """Return the bundled seed files, one per language group, in a fixed order."""
    folder = resources.files("culturebench.data") / "seeds"
    return sorted(Path(str(folder)).glob("*.yaml"))


def split_for_position(position: int) -> str:
    """Return the split of the seed at 0-based `position` in its file (about 60% train, 40% test)."""
    return "test" if position % 5 in TEST_POSITIONS else "train"


def load_seed_file(path: Path) -> list[Item]:
    """Read one seed file and return its items; raise `ValidationError` naming seed and field."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict) or "seeds" not in document or "language" not in document:
        raise ValidationError(f"{path}: expected a mapping with 'language' and 'seeds' keys")
    language = document["language"]
    if language not in LANGUAGE_COUNTRIES:
        raise ValidationError(
            f"{path}: field 'language': unknown language {language!r}; expected one of {sorted(LANGUAGE_COUNTRIES)}"
        )
    items: list[Item] = []
    for position, seed in enumerate(document["seeds"]):
        items.extend(expand_seed(seed, language, split_for_position(position), str(path)))
    return items


def expand_seed(seed: dict[str, Any], language: str, split: str, origin: str) -> list[Item]:
    """Turn one seed into two items (localized and non-localized) per country of its group."""
    seed_id = str(seed.get("id", "")).strip()
    where = f"{origin}: seed {seed_id or '?'}"
    if not seed_id:
        raise ValidationError(f"{where}: field 'id' is missing or empty")
    countries = LANGUAGE_COUNTRIES[language]
    options_by_country = _require_mapping(seed, "options", where)
    questions = _require_mapping(seed, "questions", where)
    for key in (*countries, WESTERN):
        if not str(options_by_country.get(key) or "").strip():
            raise ValidationError(f"{where}: field 'options.{key}' is missing or empty")
    unknown = set(options_by_country) - set(countries) - {WESTERN}
    if unknown:
        raise ValidationError(f"{where}: field 'options' has keys outside the {language!r} group: {sorted(unknown)}")

    options = [Option(text=str(options_by_country[key]).strip(), country=key) for key in (*countries, WESTERN)]
    random.Random(seed_id).shuffle(options)
    index_of = {option.country: index for index, option in enumerate(options)}

    items: list[Item] = []
    for country in countries:
        forms = questions.get(country)
        if not isinstance(forms, dict):
            raise ValidationError(f"{where}: field 'questions.{country}' is missing")
        for field in QUESTION_FIELDS:
            if not str(forms.get(field) or "").strip():
                raise ValidationError(f"{where}: field 'questions.{country}.{field}' is missing or empty")
        pair_id = f"{seed_id}-{country}"
        for variant, short in (("localized", "loc"), ("nonlocalized", "nonloc")):
            items.append(
                Item(
                    id=f"{pair_id}-{short}",
                    pair_id=pair_id,
                    language=language,
                    country=country,
                    topic=str(seed.get("topic", "")).strip(),
                    subtopic=str(seed.get("subtopic", "")).strip(),
                    variant=variant,
                    question=str(forms[variant]).strip(),
                    options=tuple(options),
                    answer=index_of[country],
                    gold_open=str(forms["answer"]).strip(),
                    paraphrases=tuple(str(p) for p in forms.get(f"{variant}_paraphrases") or ()),
                    split=split,
                    source="culturebench-bundled",
                    seed_id=seed_id,
                )
            )
    return items


def _require_mapping(seed: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = seed.get(key)
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: field '{key}' must be a mapping keyed by country")
    return value
