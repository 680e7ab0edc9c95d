"""Expand the bundled seed files (one YAML file per language group) into benchmark items.

A seed is one everyday-life question written for every country of its language group: per
country a localized form (names the country), a non-localized form (dialect and situation
cues only) and an open-ended gold answer, plus one option per country and a Western control
option. Each (seed, country) becomes a localized and a non-localized MCQ item sharing the
seed's options, shuffled once per seed with a fixed seed so files and item ids stay stable.

Optional keys let other seed files (such as those `culturebench build-dataset` writes) go
beyond the bundled benchmark:

- file level: `countries`, the file's language group (declares countries and languages that
  are not built in), and `source`, the items' source label;
- seed level: `split` (`train` or `test`, instead of the position rule), `countries`, the
  subset of the group this seed is written for, and `options` as a list of `{country, text}`
  in presentation order (a list is not shuffled).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from culturebench.errors import ValidationError
from culturebench.items import LANGUAGE_COUNTRIES, SPLITS, WESTERN, Item, Option, extend_groups

QUESTION_FIELDS = ("localized", "nonlocalized", "answer")
BUNDLED_SOURCE = "culturebench-bundled"
# Seeds are assigned to splits in file order: positions 1 and 3 of every 5 go to test (40%).
TEST_POSITIONS = (1, 3)


def seed_files() -> list[Path]:
    """Return the bundled seed files, one per language group, in a fixed order."""
    folder = resources.files("culturebench.data") / "seeds"
    return sorted(Path(str(folder)).glob("*.yaml"))


def split_for_position(position: int) -> str:
    """Return the split of the seed at 0-based `position` in its file (about 60% train, 40% test)."""
    return "test" if position % 5 in TEST_POSITIONS else "train"


@dataclass(frozen=True)
class SeedFile:
    """The items of one seed file and the language group they were written for."""

    language: str
    countries: tuple[str, ...]
    items: list[Item]


def load_seed_file(path: Path) -> list[Item]:
    """Read one seed file and return its items; raise `ValidationError` naming seed and field."""
    return read_seed_file(path).items


def read_seed_file(path: Path) -> SeedFile:
    """Read one seed file with its language group; raise `ValidationError` naming seed and field."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict) or "seeds" not in document or "language" not in document:
        raise ValidationError(f"{path}: expected a mapping with 'language' and 'seeds' keys")
    language = document["language"]
    countries = _file_countries(document, path)
    source = str(document.get("source") or BUNDLED_SOURCE).strip()
    if not isinstance(document["seeds"], list):
        raise ValidationError(f"{path}: field 'seeds' must be a list")
    items: list[Item] = []
    for position, seed in enumerate(document["seeds"]):
        if not isinstance(seed, dict):
            raise ValidationError(f"{path}: seed at position {position + 1} must be a mapping")
        split = _seed_split(seed, split_for_position(position), f"{path}: seed {seed.get('id', '?')}")
        items.extend(expand_seed(seed, language, split, str(path), countries=countries, source=source))
    return SeedFile(language, countries, items)


def _file_countries(document: dict[str, Any], path: Path) -> tuple[str, ...]:
    language = document["language"]
    declared = document.get("countries")
    if declared is None:
        if language not in LANGUAGE_COUNTRIES:
            raise ValidationError(
                f"{path}: field 'language': unknown language {language!r}; expected one of "
                f"{sorted(LANGUAGE_COUNTRIES)}, or declare its countries in a 'countries' list"
            )
        return LANGUAGE_COUNTRIES[language]
    if not isinstance(declared, list) or not declared or len(set(declared)) != len(declared):
        raise ValidationError(f"{path}: field 'countries' must be a non-empty list of distinct country ids")
    extend_groups({language: declared}, origin=str(path))
    return tuple(declared)


def _seed_split(seed: dict[str, Any], default: str, where: str) -> str:
    split = seed.get("split", default)
    if split not in SPLITS:
        raise ValidationError(f"{where}: field 'split': unknown split {split!r}; expected one of {list(SPLITS)}")
    return split


def expand_seed(
    seed: dict[str, Any],
    language: str,
    split: str,
    origin: str,
    *,
    countries: tuple[str, ...] | None = None,
    source: str = BUNDLED_SOURCE,
) -> list[Item]:
    """Turn one seed into two items (localized and non-localized) per country it is written for.

    `countries` is the file's language group (None means the built-in group of `language`); the
    seed's own `countries` list, when present, narrows it.
    """
    seed_id = str(seed.get("id", "")).strip()
    where = f"{origin}: seed {seed_id or '?'}"
    if not seed_id:
        raise ValidationError(f"{where}: field 'id' is missing or empty")
    group = countries if countries is not None else LANGUAGE_COUNTRIES[language]
    covered = _seed_countries(seed, group, language, where)
    options = _seed_options(seed, group, covered, language, where)
    index_of = {option.country: index for index, option in enumerate(options)}
    questions = _require_mapping(seed, "questions", where)
    unknown = set(questions) - set(covered)
    if unknown:
        raise ValidationError(f"{where}: field 'questions' has keys outside the seed's countries: {sorted(unknown)}")

    items: list[Item] = []
    for country in covered:
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
                    source=source,
                    seed_id=seed_id,
                )
            )
    return items


def _seed_countries(seed: dict[str, Any], group: tuple[str, ...], language: str, where: str) -> tuple[str, ...]:
    declared = seed.get("countries")
    if declared is None:
        return tuple(group)
    if not isinstance(declared, list) or not declared or len(set(declared)) != len(declared):
        raise ValidationError(f"{where}: field 'countries' must be a non-empty list of distinct country ids")
    outside = [country for country in declared if country not in group]
    if outside:
        raise ValidationError(f"{where}: field 'countries' has countries outside the {language!r} group: {outside}")
    return tuple(declared)


def _seed_options(
    seed: dict[str, Any], group: tuple[str, ...], covered: tuple[str, ...], language: str, where: str
) -> list[Option]:
    """Return the seed's options in presentation order: a list as written, a mapping shuffled by seed id."""
    raw = seed.get("options")
    if isinstance(raw, list):
        options = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, dict) or not str(entry.get("text") or "").strip():
                raise ValidationError(f"{where}: field 'options[{index}]' must be a mapping with 'country' and 'text'")
            options.append(Option(text=str(entry["text"]).strip(), country=entry.get("country")))
        present = [option.country for option in options]
        if len(set(present)) != len(present):
            raise ValidationError(f"{where}: field 'options' lists a country twice: {present}")
    elif isinstance(raw, dict):
        options = [Option(text=str(raw[key]).strip(), country=key) for key in raw if str(raw[key] or "").strip()]
        present = [option.country for option in options]
    else:
        raise ValidationError(f"{where}: field 'options' must be a mapping keyed by country or a list")

    # A mapping must cover the whole group; a list needs only the seed's countries (others are distractors).
    required = (*covered, WESTERN) if isinstance(raw, list) else (*group, WESTERN)
    for key in required:
        if key not in present:
            raise ValidationError(f"{where}: field 'options.{key}' is missing or empty")
    unknown = set(present) - set(group) - {WESTERN}
    if unknown:
        raise ValidationError(f"{where}: field 'options' has keys outside the {language!r} group: {sorted(unknown)}")
    if isinstance(raw, dict):
        options = [next(option for option in options if option.country == key) for key in (*group, WESTERN)]
        random.Random(str(seed["id"]).strip()).shuffle(options)
    return options


def _require_mapping(seed: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = seed.get(key)
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: field '{key}' must be a mapping keyed by country")
    return value
