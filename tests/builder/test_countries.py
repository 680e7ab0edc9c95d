"""Giveaway matching and the split rule."""

from __future__ import annotations

import pytest

from culturebench.builder.countries import BUILTIN_COUNTRIES, BUILTIN_LANGUAGES, giveaways_in, mentions
from culturebench.builder.seeds import SeedQuestion
from culturebench.builder.splits import split_of
from culturebench.items import COUNTRY_LANGUAGE, LANGUAGE_COUNTRIES


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("I live in the USA", "usa", True),
        ("The usage of the bus", "usa", False),
        ("in the US today", "US", True),
        ("us and them", "US", False),
        ("a USB stick", "US", False),
        ("the U.S. way", "U.S.", True),
        ("I'm in the UK.", "uk", True),
        ("a ukulele", "uk", False),
        ("Moroccan mint tea", "morocc*", True),
        ("bolivianos in cash", "bolivia*", True),
        ("أنا من مصر", "مصر", True),
        ("بالمصري", "مصري", True),
        ("uma família moçambicana", "moçambi", True),
        ("मैं नेपाली हूँ", "नेपाल", True),
    ],
)
def test_mentions_rule(text, word, expected):
    assert mentions(text, word) is expected


def test_builtin_tables_cover_every_country():
    assert set(BUILTIN_LANGUAGES) == set(LANGUAGE_COUNTRIES)
    assert set(BUILTIN_COUNTRIES) == set(COUNTRY_LANGUAGE)
    for country in BUILTIN_COUNTRIES.values():
        assert country.language == COUNTRY_LANGUAGE[country.id]
        # The localized form uses the local name, so the check must recognise it.
        assert giveaways_in(f"x {country.local_name} x", [country]), country.id


def test_giveaways_in_lists_words_in_order():
    countries = [BUILTIN_COUNTRIES["usa"], BUILTIN_COUNTRIES["uk"]]
    assert giveaways_in("From London to Washington", countries) == ["washington", "london"]


def question(seed_id: str, split: str | None = None) -> SeedQuestion:
    return SeedQuestion(seed_id, "food", "breakfast", "x", split)


def test_split_rule_is_per_seed_and_stable():
    ids = [f"seed-{number}" for number in range(400)]
    splits = {seed_id: split_of(question(seed_id), 0.4, 0) for seed_id in ids}
    share = sum(split == "test" for split in splits.values()) / len(ids)
    assert 0.33 <= share <= 0.47
    # Depends only on the seed id: the same ids in another order or among more seeds keep their split.
    assert {seed_id: split_of(question(seed_id), 0.4, 0) for seed_id in reversed(ids)} == splits
    assert split_of(question("seed-7"), 0.4, 1) in ("train", "test")
    other_seed = [split_of(question(seed_id), 0.4, 1) for seed_id in ids]
    assert other_seed != list(splits.values())


def test_split_rule_extremes_and_pins():
    assert split_of(question("a"), 0.0, 0) == "train"
    assert split_of(question("a"), 1.0, 0) == "test"
    assert split_of(question("a", "test"), 0.0, 0) == "test"
    assert split_of(question("a", "train"), 1.0, 0) == "train"
