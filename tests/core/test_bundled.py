"""The bundled benchmark: size, coverage, splits and the non-localized cue rule."""

import re
from collections import Counter, defaultdict

import pytest

from culturebench.cli import main
from culturebench.items import COUNTRY_LANGUAGE, LANGUAGE_COUNTRIES
from culturebench.loaders import load_items

# Names a non-localized question must not contain: country names, demonyms and capitals, in
# English and in the group's language. Latin-script words match at word starts; other scripts
# match as substrings because Arabic and Devanagari attach prefixes and case markers.
GIVEAWAYS = {
    "egypt": ["egypt", "مصر", "مصري", "القاهرة"],
    "ksa": ["saudi", "السعودية", "سعودي", "الرياض"],
    "levantine": ["levant", "الشام", "شامي", "سوريا", "لبنان", "الأردن", "فلسطين", "دمشق", "بيروت", "عمّان"],
    "morocco": ["morocc", "المغرب", "مغربي", "الرباط"],
    "usa": ["america", "united states", "usa", "US", "U.S.", "washington"],
    "uk": ["uk", "britain", "british", "united kingdom", "england", "london"],
    "australia": ["australia", "aussie", "canberra"],
    "bolivia": ["bolivia", "sucre"],
    "mexico": ["méxico", "mexico", "mexican", "mexicano", "mexicana"],
    "spain": ["españa", "español", "española", "spain", "madrid"],
    "brazil": ["brasil", "brazil", "brasileir", "brasília"],
    "mozambique": ["moçambique", "mozambique", "moçambican", "maputo"],
    "portugal": ["portugal", "portugu", "lisboa"],
    "india": ["भारत", "हिंदुस्तान", "india", "भारतीय", "नई दिल्ली"],
    "nepal": ["नेपाल", "nepal", "काठमांडू", "काठमाडौं"],
}


def mentions(text: str, word: str) -> bool:
    if word.isascii():
        # Upper-case abbreviations such as "US" match case-sensitively, so "us" stays a pronoun.
        flags = 0 if word.isupper() else re.IGNORECASE
        return re.search(rf"\b{re.escape(word)}", text, flags=flags) is not None
    return word.lower() in text.lower()


@pytest.fixture(scope="module")
def bundled():
    return load_items()


def test_size_and_coverage(bundled):
    assert len(bundled) >= 1120
    assert {item.language for item in bundled} == set(LANGUAGE_COUNTRIES)
    expected_countries = {country for countries in LANGUAGE_COUNTRIES.values() for country in countries}
    assert {item.country for item in bundled} == expected_countries
    assert {item.variant for item in bundled} == {"localized", "nonlocalized"}
    assert {item.split for item in bundled} == {"train", "test"}


@pytest.mark.parametrize("language", sorted(LANGUAGE_COUNTRIES))
def test_seeds_and_topics_per_language(bundled, language):
    items = [item for item in bundled if item.language == language]
    seeds = {item.seed_id for item in items}
    topics = {item.topic for item in items}
    assert len(seeds) >= 40
    assert len(topics) >= 15
    # Every seed is realized for every country of the group, in both variants.
    per_seed = Counter(item.seed_id for item in items)
    assert set(per_seed.values()) == {2 * len(LANGUAGE_COUNTRIES[language])}


def test_split_is_about_sixty_forty_by_seed(bundled):
    splits_by_seed = defaultdict(set)
    for item in bundled:
        splits_by_seed[item.seed_id].add(item.split)
    assert all(len(splits) == 1 for splits in splits_by_seed.values())
    train = sum(1 for splits in splits_by_seed.values() if splits == {"train"})
    assert 0.55 <= train / len(splits_by_seed) <= 0.65


def test_every_item_has_gold_and_western_control(bundled):
    for item in bundled:
        assert item.gold_open.strip(), item.id
        assert item.western_index is not None, item.id
        assert item.western_index != item.answer, item.id
        assert len(item.options) == len(LANGUAGE_COUNTRIES[item.language]) + 1, item.id


def test_nonlocalized_questions_hide_the_country(bundled):
    leaks = [
        (item.id, word)
        for item in bundled
        if item.variant == "nonlocalized"
        for word in GIVEAWAYS[item.country]
        if mentions(item.question, word)
    ]
    assert leaks == []


def test_localized_questions_name_the_country(bundled):
    unnamed = [
        item.id
        for item in bundled
        if item.variant == "localized"
        and not any(mentions(item.question, word) for word in GIVEAWAYS[item.country])
    ]
    assert unnamed == []


def test_stats_command_json(capsys):
    import json

    assert main(["data", "stats", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] >= 1120
    assert summary["languages"] == 5
    assert summary["countries"] == len(COUNTRY_LANGUAGE)  # 15 canonical countries
    assert set(summary["counts"]["variant"]) == {"localized", "nonlocalized"}
    assert set(summary["counts"]["split"]) == {"train", "test"}
