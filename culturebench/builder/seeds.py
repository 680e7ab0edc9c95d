"""Read a builder seeds file: scenarios per topic and subtopic, and the language groups to cover.

Format (YAML):

    source: my-extension              # optional label of the built items
    languages:
      english: [usa, uk, canada]      # a built-in language: the countries to cover
      swahili:                        # a new language: name, code and control register too
        name: Swahili
        code: sw
        control_register: standard written Swahili
        countries: [kenya, tanzania]
    countries:                        # required for countries that are not built in
      canada:
        name: Canada                  # English name, used in prompts
        local_name: Canada            # how the group's language writes it (default: name)
        demonyms: [Canadian]
        capitals: [Ottawa]
        other_names: []
    topics:
      food:
        breakfast:
          - id: workday-breakfast     # optional, unique; default <topic>-<subtopic>-<n>
            scenario: It is a weekday morning and I have ten minutes before work...
            split: test               # optional: pins the seed's split
          - A scenario given as a plain string.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from culturebench.builder.countries import BUILTIN_COUNTRIES, BUILTIN_LANGUAGES, CountryInfo, LanguageInfo
from culturebench.errors import CultureBenchError, ValidationError
from culturebench.items import ID_PATTERN, LANGUAGE_COUNTRIES, SPLITS, extend_groups

DEFAULT_SOURCE = "culturebench-build"
SEED_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class SeedQuestion:
    """One scenario, asked in every language group; `split` is set when the seeds file pins it."""

    id: str
    topic: str
    subtopic: str
    scenario: str
    split: str | None = None


@dataclass(frozen=True)
class SeedPlan:
    """Everything a seeds file declares.

    Args:
        path: the seeds file.
        digest: SHA-256 of the file's bytes; a changed file invalidates every stage.
        source: the source label of the built items.
        languages: the language groups to cover, in file order.
        groups: the countries to cover per language, in file order.
        countries: names and giveaway words of every covered country.
        questions: the seed questions, in file order.
    """

    path: Path
    digest: str
    source: str
    languages: dict[str, LanguageInfo]
    groups: dict[str, tuple[str, ...]]
    countries: dict[str, CountryInfo]
    questions: list[SeedQuestion]


def read_seeds(path: Path) -> SeedPlan:
    """Parse and check a seeds file; raise CultureBenchError naming the file, key and fix."""
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise CultureBenchError(f"seeds file {str(path)!r} not found; pass --seeds PATH to a YAML file") from None
    try:
        document = yaml.safe_load(payload.decode("utf-8"))
    except yaml.YAMLError as error:
        raise CultureBenchError(f"{path}: invalid YAML ({error})") from None
    if not isinstance(document, dict):
        raise CultureBenchError(f"{path}: expected a mapping with 'languages' and 'topics' keys")

    languages, groups = _read_languages(document.get("languages"), path)
    countries = _read_countries(document.get("countries") or {}, groups, path)
    questions = _read_topics(document.get("topics"), path)
    source = str(document.get("source") or DEFAULT_SOURCE).strip()
    return SeedPlan(path, hashlib.sha256(payload).hexdigest(), source, languages, groups, countries, questions)


def _read_languages(raw: Any, path: Path) -> tuple[dict[str, LanguageInfo], dict[str, tuple[str, ...]]]:
    if not isinstance(raw, dict) or not raw:
        raise CultureBenchError(f"{path}: 'languages' must map each language id to its list of countries")
    languages: dict[str, LanguageInfo] = {}
    groups: dict[str, tuple[str, ...]] = {}
    for language, entry in raw.items():
        where = f"{path}: languages.{language}"
        details = entry if isinstance(entry, dict) else {"countries": entry}
        countries = details.get("countries")
        if not isinstance(countries, list) or not countries or len(set(countries)) != len(countries):
            raise CultureBenchError(f"{where}: expected a non-empty list of distinct country ids")
        builtin = BUILTIN_LANGUAGES.get(language)
        if builtin is None and not details.get("name"):
            raise CultureBenchError(
                f"{where}: {language!r} is not a built-in language ({', '.join(LANGUAGE_COUNTRIES)}); "
                "give it a mapping with name, code, control_register and countries"
            )
        name = str(details.get("name") or builtin.name)
        languages[language] = LanguageInfo(
            id=language,
            name=name,
            code=str(details.get("code") or (builtin.code if builtin else language)),
            control_register=str(
                details.get("control_register")
                or (builtin.control_register if builtin else f"standard written {name} with no regional words")
            ),
        )
        groups[language] = tuple(countries)
    try:
        extend_groups(groups, origin=str(path))
    except ValidationError as error:
        raise CultureBenchError(str(error)) from None
    return languages, groups


def _read_countries(raw: Any, groups: dict[str, tuple[str, ...]], path: Path) -> dict[str, CountryInfo]:
    if not isinstance(raw, dict):
        raise CultureBenchError(f"{path}: 'countries' must map country ids to their names")
    covered = {country: language for language, countries in groups.items() for country in countries}
    unused = sorted(set(raw) - set(covered))
    if unused:
        raise CultureBenchError(f"{path}: countries {unused} are described but no language in 'languages' lists them")

    infos: dict[str, CountryInfo] = {}
    for country, language in covered.items():
        details = raw.get(country)
        builtin = BUILTIN_COUNTRIES.get(country)
        if details is None and builtin is None:
            raise CultureBenchError(
                f"{path}: country {country!r} is not built in; describe it under 'countries' "
                "with at least a name (and local_name, demonyms, capitals)"
            )
        details = details or {}
        if not isinstance(details, dict):
            raise CultureBenchError(f"{path}: countries.{country} must be a mapping")
        name = str(details.get("name") or builtin.name)
        local_name = str(details.get("local_name") or (builtin.local_name if builtin else name))
        words = [name, local_name]
        for key in ("demonyms", "capitals", "other_names"):
            value = details.get(key) or []
            if not isinstance(value, list):
                raise CultureBenchError(f"{path}: countries.{country}.{key} must be a list")
            words += [str(word) for word in value]
        if builtin:
            words += builtin.giveaways
        words = [word.removeprefix("the ") for word in words]
        infos[country] = CountryInfo(country, language, name, local_name, tuple(dict.fromkeys(words)))
    return infos


def _read_topics(raw: Any, path: Path) -> list[SeedQuestion]:
    if not isinstance(raw, dict) or not raw:
        raise CultureBenchError(f"{path}: 'topics' must map each topic to its subtopics and their scenarios")
    questions: list[SeedQuestion] = []
    seen: dict[str, str] = {}
    for topic, subtopics in raw.items():
        if not isinstance(subtopics, dict) or not subtopics:
            raise CultureBenchError(f"{path}: topics.{topic} must map subtopics to lists of scenarios")
        for subtopic, entries in subtopics.items():
            where = f"{path}: topics.{topic}.{subtopic}"
            if not isinstance(entries, list) or not entries:
                raise CultureBenchError(f"{where}: expected a non-empty list of scenarios")
            for number, entry in enumerate(entries, start=1):
                question = _read_question(entry, str(topic), str(subtopic), number, f"{where}[{number}]")
                if question.id in seen:
                    raise CultureBenchError(f"{where}[{number}]: seed id {question.id!r} is also used at {seen[question.id]}")
                seen[question.id] = f"{where}[{number}]"
                questions.append(question)
    return questions


def _read_question(entry: Any, topic: str, subtopic: str, number: int, where: str) -> SeedQuestion:
    details = entry if isinstance(entry, dict) else {"scenario": entry}
    scenario = details.get("scenario")
    if not isinstance(scenario, str) or not scenario.strip():
        raise CultureBenchError(f"{where}: the scenario is missing or empty")
    for label, value in (("topic", topic), ("subtopic", subtopic)):
        if not ID_PATTERN.match(value):
            raise CultureBenchError(f"{where}: invalid {label} {value!r}; use lower-case letters, digits and _")
    seed_id = str(details.get("id") or f"{topic}-{subtopic}-{number:02d}")
    if not SEED_ID_PATTERN.match(seed_id):
        raise CultureBenchError(f"{where}: invalid seed id {seed_id!r}; use lower-case letters, digits, - and _")
    split = details.get("split")
    if split is not None and split not in SPLITS:
        raise CultureBenchError(f"{where}: unknown split {split!r}; expected one of {list(SPLITS)}")
    return SeedQuestion(seed_id, topic, subtopic, " ".join(scenario.split()), split)
