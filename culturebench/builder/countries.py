"""Names, giveaway words and registers of the built-in languages and countries, for prompts and checks.

A country's giveaways are the words that name it: its name in English and in the group's
language, demonyms and capitals. A localized question must contain one of them and a
non-localized question none. ASCII words match whole words, and a trailing `*` makes a stem
that matches any word starting with it (`morocc*` covers "Morocco" and "Moroccan"). Words with
other characters match anywhere in the text, because Arabic and Devanagari attach prefixes and
case markers to words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LanguageInfo:
    """A language group as prompts name it.

    Args:
        id: the language id of the item schema, e.g. `arabic`.
        name: the English name used in prompts.
        code: the prefix of the group's seed ids, e.g. `ar`.
        control_register: the standard register that the Western control option is written in.
    """

    id: str
    name: str
    code: str
    control_register: str


@dataclass(frozen=True)
class CountryInfo:
    """A country as prompts name it, and the words that give it away.

    Args:
        id: the country id of the item schema, e.g. `egypt`.
        language: the id of its language group.
        name: the English name used in prompts.
        local_name: the name as the group's language writes it; localized questions use it.
        giveaways: name forms, demonyms and capitals, in English and in the group's language.
    """

    id: str
    language: str
    name: str
    local_name: str
    giveaways: tuple[str, ...]


BUILTIN_LANGUAGES: dict[str, LanguageInfo] = {
    language.id: language
    for language in (
        LanguageInfo("arabic", "Arabic", "ar", "Modern Standard Arabic (fusha), as used in news and textbooks"),
        LanguageInfo("english", "English", "en", "neutral standard English with no regional words or spellings"),
        LanguageInfo("spanish", "Spanish", "es", "neutral standard Spanish with no regional words"),
        LanguageInfo("portuguese", "Portuguese", "pt", "neutral standard Portuguese with no regional words"),
        LanguageInfo("hindi", "Hindi", "hi", "standard Hindi as used in textbooks and news"),
    )
}

BUILTIN_COUNTRIES: dict[str, CountryInfo] = {
    country.id: country
    for country in (
        CountryInfo("egypt", "arabic", "Egypt", "مصر", ("egypt*", "مصر", "مصري", "القاهرة")),
        CountryInfo("ksa", "arabic", "Saudi Arabia", "السعودية", ("saudi*", "السعودية", "سعودي", "الرياض")),
        CountryInfo(
            "levantine", "arabic", "the Levant (Syria, Lebanon, Jordan, Palestine)", "بلاد الشام",
            ("levant*", "الشام", "شامي", "سوريا", "لبنان", "الأردن", "فلسطين", "دمشق", "بيروت", "عمّان"),
        ),
        CountryInfo("morocco", "arabic", "Morocco", "المغرب", ("morocc*", "المغرب", "مغربي", "الرباط")),
        CountryInfo(
            "usa", "english", "the United States", "the US",
            ("america*", "united states", "usa", "US", "U.S.", "washington"),
        ),
        CountryInfo(
            "uk", "english", "the United Kingdom", "the UK",
            ("uk", "britain", "british", "united kingdom", "england", "london"),
        ),
        CountryInfo("australia", "english", "Australia", "Australia", ("australia*", "aussie*", "canberra")),
        CountryInfo("bolivia", "spanish", "Bolivia", "Bolivia", ("bolivia*", "sucre")),
        CountryInfo("mexico", "spanish", "Mexico", "México", ("méxico", "mexic*")),
        CountryInfo("spain", "spanish", "Spain", "España", ("españa", "español", "spain", "madrid")),
        CountryInfo("brazil", "portuguese", "Brazil", "Brasil", ("brasil*", "brazil*", "brasília")),
        CountryInfo(
            "mozambique", "portuguese", "Mozambique", "Moçambique", ("moçambi", "mozambi*", "maputo")
        ),
        CountryInfo("portugal", "portuguese", "Portugal", "Portugal", ("portugal", "portugu*", "lisboa", "lisbon")),
        CountryInfo("india", "hindi", "India", "भारत", ("भारत", "हिंदुस्तान", "india*", "नई दिल्ली")),
        CountryInfo("nepal", "hindi", "Nepal", "नेपाल", ("नेपाल", "nepal*", "काठमांडू", "काठमाडौं")),
    )
}


def mentions(text: str, word: str) -> bool:
    """Return whether `text` contains `word` by the matching rule in the module docstring."""
    stem = word.endswith("*")
    word = word.rstrip("*")
    if not word.isascii():
        return word.casefold() in text.casefold()
    # Upper-case abbreviations such as "US" match case-sensitively, so "us" stays a pronoun.
    flags = 0 if word.isupper() else re.IGNORECASE
    ending = "" if stem else r"(?!\w)"
    return re.search(rf"(?<!\w){re.escape(word)}{ending}", text, flags=flags) is not None


def giveaways_in(text: str, countries: Iterable[CountryInfo]) -> list[str]:
    """Return the giveaway words of `countries` that occur in `text`, in table order."""
    return [word for country in countries for word in country.giveaways if mentions(text, word)]
