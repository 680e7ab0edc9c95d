"""Versioned rubric templates (jinja2 files in this package) and the strict parsers of their replies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from culturebench.items import LANGUAGE_COUNTRIES

CRITERIA = ("fluency", "factual_accuracy", "cultural_appropriateness", "content_quality", "overall")
FLAGS = ("fabricated_references", "nonsensical", "excessive_repetition")
SCORE_MIN, SCORE_MAX = 1, 5

COUNTRY_NAMES = {
    "egypt": "Egypt",
    "ksa": "Saudi Arabia",
    "levantine": "the Levant (Syria, Lebanon, Jordan, Palestine)",
    "morocco": "Morocco",
    "usa": "the United States",
    "uk": "the United Kingdom",
    "australia": "Australia",
    "bolivia": "Bolivia",
    "mexico": "Mexico",
    "spain": "Spain",
    "brazil": "Brazil",
    "mozambique": "Mozambique",
    "portugal": "Portugal",
    "india": "India",
    "nepal": "Nepal",
}


class ReplyFormatError(ValueError):
    """A judge reply that is not the JSON object the rubric specifies; the message says why."""


@dataclass(frozen=True)
class Rubric:
    """A rubric: its name, version and template file. A changed template gets a new version."""

    name: str
    version: str
    template_file: str

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, **fields: Any) -> tuple[str, str]:
        """Return the (system, user) prompt texts for these fields."""
        template = _environment().get_template(self.template_file)
        context = template.new_context(fields)
        system = _static_system(self.template_file)
        if system is None:
            system = "".join(template.blocks["system"](context)).strip()
        user = "".join(template.blocks["user"](context)).strip()
        return system, user


OPEN_ENDED = Rubric("open_ended", "1", "open_ended_v1.j2")
OPTION = Rubric("option", "1", "option_v1.j2")
RUBRICS = {rubric.name: rubric for rubric in (OPEN_ENDED, OPTION)}

REPAIR_PROMPT = (
    "Your previous reply could not be used: {error}. Reply again with only the JSON object that the "
    "instructions describe, with no other text."
)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("culturebench.judges", ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # templates ship with the package; skip a stat() per render
    )


@cache
def _static_system(template_file: str) -> str | None:
    """Return the system block rendered once when it uses no variables, else None."""
    template = _environment().get_template(template_file)
    try:
        return "".join(template.blocks["system"](template.new_context({}))).strip()
    except jinja2.UndefinedError:
        return None


def fence_id(*parts: str) -> str:
    """Return the id that marks this prompt's data fences.

    The id hashes the fenced data itself, so an answer cannot contain the closing fence of the
    block it sits in (it would have to contain its own hash).
    """
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]


def render_open_ended(question: str, gold: str, answer: str, country: str | None, variant: str | None,
                      language: str | None) -> tuple[str, str]:
    """Render the open-ended rubric for one answer."""
    return OPEN_ENDED.render(
        question=question,
        gold=gold,
        answer=answer,
        country_name=country_name(country),
        localized=variant == "localized",
        language=(language or _language_of(country) or "unknown").capitalize(),
        fence=fence_id(question, gold, answer),
    )


def render_option(question: str, options: Sequence[str], answer: str) -> tuple[str, str]:
    """Render the MCQ fallback rubric for one answer."""
    return OPTION.render(
        question=question,
        options=list(options),
        answer=answer,
        fence=fence_id(question, *options, answer),
    )


def country_name(country: str | None) -> str:
    if not country:
        return "the country implied by the question"
    return COUNTRY_NAMES.get(country, country)


def _language_of(country: str | None) -> str | None:
    for language, countries in LANGUAGE_COUNTRIES.items():
        if country in countries:
            return language
    return None


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse a reply that must be one JSON object, optionally inside one markdown code fence.

    Nothing is searched for inside longer text, so JSON quoted from the graded answer in a
    rambling reply is never taken as the verdict.
    """
    body = text.strip()
    if body.startswith("```"):
        first_newline = body.find("\n")
        if first_newline == -1 or not body.endswith("```"):
            raise ReplyFormatError("the reply opens a markdown code fence but does not close it")
        body = body[first_newline + 1 : -3].strip()
    if not body:
        raise ReplyFormatError("the reply is empty")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as error:
        raise ReplyFormatError(f"the reply is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(value, dict):
        raise ReplyFormatError(f"the reply is a JSON {type(value).__name__}, not an object")
    return value


def parse_open_ended(text: str) -> dict[str, Any]:
    """Return {"scores", "flags", "rationale"} from an open-ended verdict; raise ReplyFormatError."""
    value = parse_json_object(text)
    missing = [key for key in (*CRITERIA, *FLAGS, "rationale") if key not in value]
    if missing:
        raise ReplyFormatError(f"the JSON object lacks the keys {', '.join(missing)}")

    scores = {}
    for criterion in CRITERIA:
        score = value[criterion]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or score != int(score):
            raise ReplyFormatError(f"{criterion} must be an integer from 1 to 5, got {score!r}")
        if not SCORE_MIN <= score <= SCORE_MAX:
            raise ReplyFormatError(f"{criterion} must be from 1 to 5, got {score}")
        scores[criterion] = int(score)

    flags = {}
    for flag in FLAGS:
        if not isinstance(value[flag], bool):
            raise ReplyFormatError(f"{flag} must be true or false, got {value[flag]!r}")
        flags[flag] = value[flag]

    if not isinstance(value["rationale"], str):
        raise ReplyFormatError(f"rationale must be a string, got {value['rationale']!r}")
    return {"scores": scores, "flags": flags, "rationale": value["rationale"].strip()}


def parse_option(text: str, option_count: int) -> int | None:
    """Return the 0-based option index from an MCQ fallback verdict, or None for "none"."""
    value = parse_json_object(text)
    if "option" not in value:
        raise ReplyFormatError("the JSON object lacks the key option")
    option = value["option"]
    if option is None or (isinstance(option, str) and option.strip().lower() == "none"):
        return None
    if isinstance(option, str) and option.strip().isdigit():
        option = int(option.strip())
    if isinstance(option, bool) or not isinstance(option, int):
        raise ReplyFormatError(f'option must be an integer or "none", got {option!r}')
    if not 1 <= option <= option_count:
        raise ReplyFormatError(f"option must be from 1 to {option_count}, got {option}")
    return option - 1


def parse_reply(rubric: Rubric, text: str, context: Mapping[str, Any]) -> Any:
    """Parse a reply with the parser of `rubric`; `context` carries the option count for OPTION."""
    if rubric is OPEN_ENDED:
        return parse_open_ended(text)
    if rubric is OPTION:
        return parse_option(text, int(context["option_count"]))
    raise ValueError(f"no parser for rubric {rubric.label}")
