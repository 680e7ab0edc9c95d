"""The records that stages pass to each other (stored as JSON lines under `stages/`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from culturebench.items import WESTERN


@dataclass
class Answer:
    """A country expert's (or the Western control's) answer to one seed question in one language.

    `respondent` is a country id or `western`. `applies` is False when the expert replied that
    the question does not apply to the country, and `reason` gives the expert's explanation.
    """

    seed: str
    language: str
    respondent: str
    applies: bool
    reason: str
    answer: str
    option: str
    repaired: bool = False

    @property
    def key(self) -> str:
        return f"{self.seed}/{self.language}/{self.respondent}"


@dataclass
class Mcq:
    """One seed question packaged as a multiple-choice question in one language.

    `options` are `{"country", "text"}` in presentation order, the Western control included.
    `countries` are the countries whose items the question yields; an option whose country is
    not listed stays as a distractor. `answers` maps each of them to its correct option index,
    and `gold` to its expert's open-ended answer.
    """

    seed: str
    language: str
    topic: str
    subtopic: str
    scenario: str
    options: list[dict[str, str]]
    countries: list[str]
    answers: dict[str, int] = field(default_factory=dict)
    gold: dict[str, str] = field(default_factory=dict)
    edited: bool = False

    @property
    def key(self) -> str:
        return f"{self.seed}/{self.language}"

    def option_of(self, country: str) -> str:
        return next(option["text"] for option in self.options if option["country"] == country)

    def remove(self, country: str) -> None:
        """Remove a country's option and items, and recompute the correct indices."""
        self.options = [option for option in self.options if option["country"] != country]
        self.countries = [kept for kept in self.countries if kept != country]
        self.gold.pop(country, None)
        self.reindex()

    def reindex(self) -> None:
        index_of = {option["country"]: index for index, option in enumerate(self.options)}
        self.answers = {country: index_of[country] for country in self.countries}

    @property
    def western_text(self) -> str:
        return self.option_of(WESTERN)


@dataclass
class Variants:
    """The question forms written for one country: localized, non-localized and their paraphrases."""

    seed: str
    language: str
    country: str
    localized: str
    nonlocalized: str
    localized_paraphrases: list[str] = field(default_factory=list)
    nonlocalized_paraphrases: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.seed}/{self.language}/{self.country}"


def to_record(value: Answer | Mcq | Variants) -> dict[str, Any]:
    """Return the JSON record of a stage record."""
    return asdict(value)
