"""Strict parsers of the generator's replies, one per prompt template.

Each parser takes the reply text and returns a dict, or raises `ReplyFormatError` saying what is
wrong. The judge client then sends one repair request with that message, as it does for judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from culturebench.judges.rubrics import ReplyFormatError, parse_json_object


def parse_expert(text: str) -> dict[str, Any]:
    """Parse `{"applies", "reason", "answer", "option"}`; answer and option are required when it applies."""
    value = parse_json_object(text)
    applies = value.get("applies")
    if not isinstance(applies, bool):
        raise ReplyFormatError(f"applies must be true or false, got {applies!r}")
    reason = _text(value, "reason", required=False)
    if not applies:
        return {"applies": False, "reason": reason, "answer": "", "option": ""}
    return {"applies": True, "reason": reason, "answer": _text(value, "answer"), "option": _text(value, "option")}


def parse_control(text: str) -> dict[str, Any]:
    """Parse `{"answer", "option"}` of the Western control prompt."""
    value = parse_json_object(text)
    return {"answer": _text(value, "answer"), "option": _text(value, "option")}


def parse_options(text: str, keys: Sequence[str]) -> dict[str, str]:
    """Parse `{"options": {key: text}}`; the keys must be exactly `keys`."""
    value = parse_json_object(text)
    options = value.get("options")
    if not isinstance(options, dict):
        raise ReplyFormatError("the JSON object lacks an options object")
    missing = [key for key in keys if key not in options]
    extra = [key for key in options if key not in keys]
    if missing or extra:
        raise ReplyFormatError(f"options must have exactly the keys {list(keys)}; missing {missing}, unexpected {extra}")
    return {key: _text(options, key) for key in keys}


def parse_variants(text: str) -> dict[str, Any]:
    """Parse `{"localized", "nonlocalized", "localized_paraphrases", "nonlocalized_paraphrases"}`."""
    value = parse_json_object(text)
    parsed: dict[str, Any] = {"localized": _text(value, "localized"), "nonlocalized": _text(value, "nonlocalized")}
    for key in ("localized_paraphrases", "nonlocalized_paraphrases"):
        paraphrases = value.get(key, [])
        if not isinstance(paraphrases, list) or not all(isinstance(p, str) for p in paraphrases):
            raise ReplyFormatError(f"{key} must be a list of strings, got {paraphrases!r}")
        parsed[key] = [" ".join(p.split()) for p in paraphrases if p.strip()]
    return parsed


def _text(value: dict[str, Any], key: str, required: bool = True) -> str:
    text = value.get(key, "")
    if not isinstance(text, str):
        raise ReplyFormatError(f"{key} must be a string, got {text!r}")
    if required and not text.strip():
        raise ReplyFormatError(f"{key} is missing or empty")
    return " ".join(text.split())
