"""Small conversions shared by the readers: numbers, dates, names and display order."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any

# Display order of the methods the project implements; any other method follows, sorted by name.
METHOD_ORDER = ("baseline", "caa", "sas", "bipo", "yapo")
METHOD_LABELS = {"baseline": "Baseline", "caa": "CAA", "sas": "SAS", "bipo": "BiPO", "yapo": "YaPO"}
SETTING_ORDER = ("localized", "nonlocalized", "both")
STATUSES = ("ok", "partial", "failed")


def as_float(value: Any) -> float | None:
    """Return `value` as a finite float, or None for anything else (strings are parsed)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    """Return `value` as an int when it is an integer number or an integer string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = as_float(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


def as_text(value: Any) -> str | None:
    """Return a non-empty string form of a scalar, or None for missing and empty values."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def iso_date(value: Any) -> str | None:
    """Return a date as ISO 8601 UTC text; accepts Unix seconds (lm-eval's `date`) or ISO text."""
    seconds = as_float(value)
    if seconds is not None and not isinstance(value, bool):
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return as_text(value)


def slugify(text: str) -> str:
    """Return a file-name fragment: lowercase letters and digits of any script, dots, hyphens and underscores.

    The text is NFKC-normalised first. Characters for which `str.isalnum()` is true are kept, and
    so are combining marks that follow a kept character, because Devanagari vowel signs and Arabic
    harakat are marks, not letters. Every other run of characters becomes one hyphen.
    """
    # NUL stands for a replaced character, so that a run of them becomes a single hyphen below.
    characters = []
    for character in unicodedata.normalize("NFKC", text).lower():
        if character.isalnum() or character in "._-":
            characters.append(character)
        elif unicodedata.category(character).startswith("M") and characters and characters[-1] not in "._-\0":
            characters.append(character)
        else:
            characters.append("\0")
    slug = re.sub("\0+", "-", "".join(characters)).strip("-.")
    return slug or "run"


def method_label(method: str | None) -> str:
    """Return the display name of a method (`yapo` → `YaPO`); unknown names are shown as given."""
    if not method:
        return "unknown"
    return METHOD_LABELS.get(method.lower(), method)


def method_rank(method: str | None) -> tuple[int, str]:
    """Return a sort key placing the known methods first, in `METHOD_ORDER`."""
    name = (method or "").lower()
    if name in METHOD_ORDER:
        return (METHOD_ORDER.index(name), name)
    return (len(METHOD_ORDER), name)


def setting_rank(setting: str | None) -> tuple[int, str]:
    """Return a sort key placing no setting (the baseline) first, then `SETTING_ORDER`."""
    if not setting:
        return (-1, "")
    if setting in SETTING_ORDER:
        return (SETTING_ORDER.index(setting), setting)
    return (len(SETTING_ORDER), setting)


def parse_model_args(model_args: Any) -> dict[str, str]:
    """Return lm-eval `model_args` as a dict; 0.4.13 stores a dict, older versions a `k=v,...` string."""
    if isinstance(model_args, dict):
        return {str(key): str(value) for key, value in model_args.items() if value is not None}
    if not isinstance(model_args, str):
        return {}
    parsed = {}
    for part in model_args.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            parsed[key.strip()] = value.strip()
    return parsed


COUNTRY_NAMES = {
    "egypt": "Egypt",
    "ksa": "Saudi Arabia",
    "levantine": "Levant",
    "morocco": "Morocco",
    "usa": "United States",
    "uk": "United Kingdom",
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


def country_name(country: str | None) -> str:
    if not country:
        return "—"
    return COUNTRY_NAMES.get(country, country)


def language_name(language: str | None) -> str:
    if not language:
        return "—"
    return language.capitalize()
