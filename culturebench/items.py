"""The benchmark item schema: language groups, countries, options and items."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from culturebench.errors import ValidationError

# Language groups and their canonical country ids. The Western control option is not a country.
LANGUAGE_COUNTRIES: dict[str, tuple[str, ...]] = {
    "arabic": ("egypt", "ksa", "levantine", "morocco"),
    "english": ("usa", "uk", "australia"),
    "spanish": ("bolivia", "mexico", "spain"),
    "portuguese": ("brazil", "mozambique", "portugal"),
    "hindi": ("india", "nepal"),
}
COUNTRY_LANGUAGE: dict[str, str] = {
    country: language for language, countries in LANGUAGE_COUNTRIES.items() for country in countries
}
LANGUAGE_CODES: dict[str, str] = {
    "arabic": "ar",
    "english": "en",
    "spanish": "es",
    "portuguese": "pt",
    "hindi": "hi",
}
WESTERN = "western"
VARIANTS = ("localized", "nonlocalized")
SPLITS = ("train", "test")
# Language and country ids declared by data files: lower-case ASCII, as in the table above.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def extend_groups(declared: Mapping[str, Iterable[str]], origin: str = "data") -> dict[str, tuple[str, ...]]:
    """Return the built-in language groups with the declared countries added.

    A declared country joins its language's group, and a new language starts a new group. Raise
    `ValidationError` naming `origin` when an id is malformed, is the reserved `western`, or
    names a country that already belongs to another language.

    Example:
        >>> extend_groups({"english": ["usa", "canada"]})["english"]
        ('usa', 'uk', 'australia', 'canada')
    """
    groups = {language: tuple(countries) for language, countries in LANGUAGE_COUNTRIES.items()}
    owner = dict(COUNTRY_LANGUAGE)
    for language, countries in declared.items():
        if not isinstance(language, str) or not ID_PATTERN.match(language):
            raise ValidationError(f"{origin}: invalid language id {language!r}; use lower-case letters, digits and _")
        for country in countries:
            if not isinstance(country, str) or not ID_PATTERN.match(country) or country == WESTERN:
                raise ValidationError(
                    f"{origin}: invalid country id {country!r} in language {language!r}; use lower-case "
                    f"letters, digits and _ (and not {WESTERN!r}, which names the control option)"
                )
            if owner.get(country, language) != language:
                raise ValidationError(
                    f"{origin}: country {country!r} is declared for {language!r} but belongs to {owner[country]!r}"
                )
            owner[country] = language
            if country not in groups.get(language, ()):
                groups[language] = (*groups.get(language, ()), country)
    return groups


@dataclass(frozen=True)
class Option:
    """One answer option: its text and the country whose practice it describes.

    `country` is a country id of the item's language group, `"western"` for the Western control
    option, or None when the source data does not say (for example Deep-Culture-Lense items).
    """

    text: str
    country: str | None = None

    @property
    def is_western(self) -> bool:
        return self.country == WESTERN


@dataclass(frozen=True)
class Item:
    """One benchmark question in one variant, answered for one country.

    `pair_id` links the localized and non-localized forms of the same question for the same
    country; both forms share options and the correct index. `seed_id` names the seed question
    that all countries' pairs were written from (train/test are split by it). `answer` is the
    0-based index of the correct option in `options`.
    """

    id: str
    pair_id: str
    language: str
    country: str
    topic: str
    subtopic: str
    variant: str
    question: str
    options: tuple[Option, ...]
    answer: int
    gold_open: str = ""
    paraphrases: tuple[str, ...] = ()
    split: str = "test"
    source: str = "culturebench"
    seed_id: str = ""

    @property
    def correct_option(self) -> Option:
        return self.options[self.answer]

    @property
    def western_index(self) -> int | None:
        """Index of the Western control option, or None when the item has none."""
        for index, option in enumerate(self.options):
            if option.is_western:
                return index
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict; `Item.from_dict` reverses it."""
        record = asdict(self)
        record["options"] = [asdict(option) for option in self.options]
        record["paraphrases"] = list(self.paraphrases)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Item:
        """Build an item from a dict written by `to_dict` (types are checked by validation)."""
        raw_options = record.get("options") or []
        options = tuple(
            Option(text=o["text"], country=o.get("country")) if isinstance(o, dict) else Option(text=str(o))
            for o in raw_options
        )
        known = {f for f in cls.__dataclass_fields__}
        values = {key: value for key, value in record.items() if key in known}
        values["options"] = options
        values["paraphrases"] = tuple(record.get("paraphrases") or ())
        return cls(**values)


@dataclass
class Dataset:
    """A list of items plus where they came from (used in messages and provenance)."""

    items: list[Item]
    origin: str = "bundled"
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def filter(
        self,
        *,
        language: str | None = None,
        country: str | None = None,
        variant: str | None = None,
        split: str | None = None,
    ) -> Dataset:
        """Return the items matching every given field (None matches anything)."""
        kept = [
            item
            for item in self.items
            if (language is None or item.language == language)
            and (country is None or item.country == country)
            and (variant is None or item.variant == variant)
            and (split is None or item.split == split)
        ]
        return Dataset(items=kept, origin=self.origin, skipped=list(self.skipped))
