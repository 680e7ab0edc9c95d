"""Checks that benchmark items obey the schema; every problem names its file, row and field."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from culturebench.errors import ValidationError
from culturebench.items import LANGUAGE_COUNTRIES, SPLITS, VARIANTS, WESTERN, Item

# Language groups: language id -> its country ids (the built-in table unless a data file declares more).
Groups = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Problem:
    """One schema violation: where it is and what is wrong."""

    origin: str
    row: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: row {self.row}: field '{self.field}': {self.message}"


def check_item(item: Item, origin: str, row: str, groups: Groups | None = None) -> list[Problem]:
    """Return the problems found in one item on its own (cross-item checks are in `check_items`).

    `groups` maps each known language to its countries; None means the built-in table.
    """
    problems: list[Problem] = []
    groups = LANGUAGE_COUNTRIES if groups is None else groups
    country_language = {country: language for language, countries in groups.items() for country in countries}

    def add(field: str, message: str) -> None:
        problems.append(Problem(origin, row, field, message))

    if not str(item.id).strip():
        add("id", "is empty")
    if item.language not in groups:
        add("language", f"unknown language {item.language!r}; expected one of {sorted(groups)}")
    if item.country not in country_language:
        add("country", f"unknown country {item.country!r}; expected one of {sorted(country_language)}")
    elif item.language in groups and country_language[item.country] != item.language:
        add(
            "country",
            f"country {item.country!r} is not in the {item.language!r} group "
            f"({', '.join(groups[item.language])}); it belongs to {country_language[item.country]!r}",
        )
    if item.variant not in VARIANTS:
        add("variant", f"unknown variant {item.variant!r}; expected one of {list(VARIANTS)}")
    if item.split not in SPLITS:
        add("split", f"unknown split {item.split!r}; expected one of {list(SPLITS)}")
    if not item.question.strip():
        add("question", "is empty")
    if not item.topic.strip():
        add("topic", "is empty")

    if len(item.options) < 2:
        add("options", f"has {len(item.options)} option(s); an MCQ item needs at least 2")
    seen_texts: dict[str, int] = {}
    for index, option in enumerate(item.options):
        text = option.text.strip()
        if not text:
            add(f"options[{index}]", "option text is empty")
            continue
        if text in seen_texts:
            add(f"options[{index}]", f"duplicates the text of option {seen_texts[text]}: {text!r}")
        seen_texts.setdefault(text, index)
        allowed = set(groups.get(item.language, ())) | {WESTERN}
        if option.country is not None and option.country not in allowed:
            add(f"options[{index}].country", f"{option.country!r} is not a country of {item.language!r} or 'western'")

    if not isinstance(item.answer, int) or isinstance(item.answer, bool):
        add("answer", f"must be an integer option index, got {item.answer!r}")
    elif not 0 <= item.answer < len(item.options):
        add("answer", f"index {item.answer} is out of range for {len(item.options)} options (0-based)")
    else:
        owner = item.options[item.answer].country
        if owner is not None and owner != item.country:
            add("answer", f"the correct option belongs to {owner!r}, but the item's country is {item.country!r}")
    return problems


def check_items(items: Iterable[tuple[Item, str, str]], groups: Groups | None = None) -> list[Problem]:
    """Return all problems in `(item, origin, row)` triples, including cross-item checks.

    Cross-item checks: duplicate ids, the two forms of a pair disagreeing on options or answer,
    and one question (pair id or seed id) appearing in both splits. `groups` maps each known
    language to its countries; None means the built-in table.
    """
    problems: list[Problem] = []
    first_row_of_id: dict[str, str] = {}
    pairs: dict[str, list[tuple[Item, str, str]]] = defaultdict(list)
    splits_of_question: dict[str, dict[str, str]] = defaultdict(dict)

    for item, origin, row in items:
        problems.extend(check_item(item, origin, row, groups))
        if item.id in first_row_of_id:
            problems.append(
                Problem(origin, row, "id", f"duplicate id {item.id!r} (first seen at row {first_row_of_id[item.id]})")
            )
        else:
            first_row_of_id[item.id] = row
        pairs[item.pair_id].append((item, origin, row))
        for question_id in {item.pair_id, item.seed_id or item.pair_id}:
            splits_of_question[question_id].setdefault(item.split, row)

    for pair_id, members in pairs.items():
        reference, _, reference_row = members[0]
        for item, origin, row in members[1:]:
            if [o.text for o in item.options] != [o.text for o in reference.options]:
                problems.append(
                    Problem(origin, row, "options", f"pair {pair_id!r} disagrees with row {reference_row} on options")
                )
            if item.answer != reference.answer:
                problems.append(
                    Problem(
                        origin, row, "answer",
                        f"pair {pair_id!r} disagrees with row {reference_row} on the answer "
                        f"({item.answer} vs {reference.answer})",
                    )
                )
            if item.variant == reference.variant:
                problems.append(
                    Problem(origin, row, "variant", f"pair {pair_id!r} has two {item.variant!r} forms (row {reference_row})")
                )

    for question_id, rows in splits_of_question.items():
        if len(rows) > 1:
            where = ", ".join(f"{split} at row {row}" for split, row in sorted(rows.items()))
            problems.append(
                Problem(
                    "dataset", rows.get("test", ""), "split",
                    f"question {question_id!r} appears in both splits ({where}); split by question",
                )
            )
    return problems


def raise_for_problems(problems: list[Problem], limit: int = 20) -> None:
    """Raise `ValidationError` listing the first `limit` problems, if there are any."""
    if not problems:
        return
    shown = "\n  ".join(str(problem) for problem in problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    raise ValidationError(
        f"{len(problems)} invalid field(s) in the data:\n  {shown}{more}\n"
        "Fix the rows above, or pass --skip-invalid to drop them (each dropped row is reported)."
    )
