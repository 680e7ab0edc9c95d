"""Read preference pairs from jsonl or csv files in three layouts, chosen by their columns.

- `prompt, chosen, rejected`: used as they are (the continuations are appended to the prompt
  verbatim, so include any leading space).
- `question, matching, not_matching` (BiPO's behaviour sets): the prompt is
  `behaviour_prompt(tokenizer, question)` and each answer gets one leading space, as the BiPO
  code prepends.
- Deep-Culture-Lense with given rejected answers: `prompt-mcq, chosen-mcq, rejected-mcq` and/or
  `prompt_open_ended, chosen_open_ended, rejected_open_ended`; the prompt goes through the
  tokenizer's chat template. Rows with `country` and `localization_status` columns are
  filtered by the requested country and setting.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from culturebench.deep_culture_lense import COUNTRY_ALIASES, VARIANT_NAMES
from culturebench.errors import CultureBenchError
from culturebench.prompts import CLOZE_ANSWER_CUE, apply_chat
from culturebench.steering.preferences import PreferencePair

logger = logging.getLogger(__name__)

LAYOUTS = {
    "pairs": ("prompt", "chosen", "rejected"),
    "bipo": ("question", "matching", "not_matching"),
    "dcl-mcq": ("prompt-mcq", "chosen-mcq", "rejected-mcq"),
    "dcl-open": ("prompt_open_ended", "chosen_open_ended", "rejected_open_ended"),
}


def behaviour_prompt(tokenizer, question: str) -> str:
    """Build the prompt of a behaviour question: the chat template when the tokenizer has one,
    else the question followed by the cloze answer cue (`Answer:`), the prompt of the
    `behaviour_*` lm-eval tasks."""
    if getattr(tokenizer, "chat_template", None):
        return apply_chat(tokenizer, question)
    return f"{question.strip()}\n{CLOZE_ANSWER_CUE}"


def load_pairs(path: str | Path, tokenizer, *, country: str | None = None, setting: str | None = None) -> list[PreferencePair]:
    """Read pairs from a `.jsonl` or `.csv` file in any layout of the module docstring.

    Rows with an empty prompt, chosen or rejected field are skipped with a warning (BiPO's
    wealth-seeking set has a row with an empty question).

    Raises:
        CultureBenchError: for a missing file, an unknown layout, or no usable pairs.
    """
    def build(layout: str, fields: tuple[str, str, str], source: str) -> PreferencePair:
        return _pair(layout, fields, tokenizer, source)

    return _read_pairs(Path(path), country, setting, build, log_skipped=True)


def check_pairs_file(path: str | Path, *, country: str | None = None, setting: str | None = None) -> int:
    """Check a pairs file as `load_pairs` reads it, without a tokenizer; return the number of pairs.

    The CLI calls it before loading a model, so a missing or malformed file fails at once.

    Raises:
        CultureBenchError: in the cases where `load_pairs` raises.
    """
    def keep_fields(layout: str, fields: tuple[str, str, str], source: str) -> tuple[str, str, str]:
        return fields

    # `load_pairs` logs the skipped rows later, so this pass stays quiet about them.
    return len(_read_pairs(Path(path), country, setting, keep_fields, log_skipped=False))


def _read_pairs(path: Path, country: str | None, setting: str | None, build, *, log_skipped: bool) -> list:
    rows = list(_rows(path))
    if not rows:
        raise CultureBenchError(f"pairs file {path} has no rows")
    columns = set(rows[0][1])
    layouts = [name for name, fields in LAYOUTS.items() if set(fields) <= columns]
    if not layouts:
        expected = "; ".join(", ".join(fields) for fields in LAYOUTS.values())
        raise CultureBenchError(f"pairs file {path} has columns {sorted(columns)}; expected one of: {expected}")

    pairs, problems = [], []
    for label, row in rows:
        if not _selected(row, country, setting):
            continue
        for layout in layouts:
            source = f"{path.name}:{label}"
            try:
                fields = _fields(layout, row, source)
            except _RowError as error:
                problems.append(str(error))
                continue
            if fields is not None:
                pairs.append(build(layout, fields, source))
    if log_skipped:
        for problem in problems[:5]:
            logger.warning("skipping a pair: %s", problem)
        if len(problems) > 5:
            logger.warning("skipped %d more pairs of %s with missing fields", len(problems) - 5, path)
    if not pairs:
        reason = f"; first problem: {problems[0]}" if problems else ""
        raise CultureBenchError(f"pairs file {path} gives no pairs (country {country!r}, setting {setting!r}){reason}")
    return pairs


def _fields(layout: str, row: dict[str, Any], source: str) -> tuple[str, str, str] | None:
    """Return the prompt, chosen and rejected texts of `row`, or None for a Deep-Culture-Lense row without this form."""
    values = [row.get(name) for name in LAYOUTS[layout]]
    if layout.startswith("dcl") and not all(_text(value) for value in values):
        return None  # Deep-Culture-Lense rows may lack one of the two forms
    for name, value in zip(LAYOUTS[layout], values):
        if not _text(value):
            raise _RowError(f"{source}: field {name!r} is missing or empty")
    prompt, chosen, rejected = (str(value) for value in values)
    return prompt, chosen, rejected


def _pair(layout: str, fields: tuple[str, str, str], tokenizer, source: str) -> PreferencePair:
    prompt, chosen, rejected = fields
    if layout == "bipo":
        return PreferencePair(behaviour_prompt(tokenizer, prompt), " " + chosen.strip(), " " + rejected.strip(), source)
    if layout.startswith("dcl"):
        return PreferencePair(apply_chat(tokenizer, prompt), chosen, rejected, source)
    return PreferencePair(prompt, chosen, rejected, source)


class _RowError(Exception):
    """A row that cannot become a pair (it is skipped with a warning)."""


def _selected(row: dict[str, Any], country: str | None, setting: str | None) -> bool:
    if country is not None and _text(row.get("country")):
        if COUNTRY_ALIASES.get(str(row["country"]).strip().lower(), str(row["country"])) != country:
            return False
    if setting not in (None, "both") and _text(row.get("localization_status")):
        if VARIANT_NAMES.get(str(row["localization_status"]).strip().lower()) != setting:
            return False
    return True


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _rows(path: Path):
    if not path.is_file():
        raise CultureBenchError(f"pairs file {path} not found")
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise CultureBenchError(f"{path}:{number}: invalid JSON ({error.msg})") from error
                if not isinstance(record, dict):
                    raise CultureBenchError(f"{path}:{number}: expected a JSON object")
                yield str(number), record
    elif path.suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for index, record in enumerate(frame.to_dict(orient="records")):
            yield str(index + 2), record  # row 1 is the header, as a spreadsheet numbers it
    else:
        raise CultureBenchError(f"unsupported pairs file {path}: expected .jsonl or .csv")
