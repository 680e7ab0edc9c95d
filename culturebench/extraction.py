"""Answer extraction for MCQ responses: `\\boxed{k}`, then fuzzy match, then the option judge.

The steps, in order:
1. A leading `<think>...</think>` block is dropped. An unclosed leading `<think>` leaves no answer.
2. An empty or whitespace-only answer fails.
3. The last box wins, by position: `\\boxed{...}` or `\\fbox{...}` with balanced braces, or the
   brace-less `\\boxed 3`. Its content is read as an option label: digits in any Unicode script
   (Arabic-Indic `٣`, Extended Arabic-Indic `۳`, Devanagari `३`, full-width `３`), a letter when
   the options are lettered, and the forms `Option 2`, `(2)`, `2.`, `\\text{2}`, `{3}`. A label
   outside 1..K fails at once, never wrapping around. Box content that is not a label is matched
   against the option texts as in step 5.
4. Without a box, an answer that is nothing but a label (`2`, `(2)`, `Option 2`) is read the same.
5. Otherwise the answer text is fuzzy-matched against the option texts with rapidfuzz's `WRatio`
   on lower-cased text stripped of punctuation. The best option must score at least
   `FUZZY_THRESHOLD` (0-100) and beat the runner-up by at least `FUZZY_TIE_MARGIN`, otherwise the
   match counts as a tie and fails.
6. Still unresolved: the configured `culturebench.judging` option judge picks an option or none.
7. Nothing resolved it: the result is a failure (`extraction_failed`). Scoring counts it wrong and
   reports the failure rate, so no failure is hidden and none stops a run.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rapidfuzz import fuzz, utils

from culturebench import judging
from culturebench.errors import CultureBenchError
from culturebench.prompts import LETTERS

logger = logging.getLogger(__name__)

FUZZY_THRESHOLD: Final = 85.0
FUZZY_TIE_MARGIN: Final = 1.0
# Sentinel for `extract_choice(judge=...)`: use the judge configured by CULTUREBENCH_JUDGE.
CONFIGURED_JUDGE: Final = "configured"

_THINK = re.compile(r"^\s*<think>(.*?)</think>", re.DOTALL)
_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)\b\s*")
_LATEX_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_LABEL = re.compile(
    r"^(?:(?:option|choice|answer)\s*[:#]?\s*)?"
    r"[(\[]?\s*(?P<label>\d+|[A-Za-z])\s*[)\]]?"
    r"(?P<rest>\s*[.:)](?!\d).*)?$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Extraction:
    """The outcome of reading one response: the chosen option and how it was found.

    `index` is the 0-based option index, or None on failure. `method` is one of `boxed`,
    `label`, `fuzzy`, `judge` or `failed`. `reason` says why extraction failed (`empty`,
    `out_of_range`, `unresolved`, `judge_error`) and is empty on success.
    """

    index: int | None
    method: str
    reason: str = ""

    @property
    def extraction_failed(self) -> bool:
        return self.index is None


def extract_choice(
    response: str,
    options: Sequence[str],
    *,
    question: str = "",
    lettered: bool = False,
    judge: judging.OptionJudge | str | None = CONFIGURED_JUDGE,
) -> Extraction:
    """Read the option a free-form MCQ response commits to.

    Args:
        response: the model's generated text.
        options: the option texts in prompt order.
        question: the question text, passed to the judge.
        lettered: whether the prompt labelled options A, B, C instead of 1, 2, 3.
        judge: an `OptionJudge`, None for no judge, or `CONFIGURED_JUDGE` (default) for the
            judge named by the CULTUREBENCH_JUDGE variable, if any.

    Example:
        >>> extract_choice("It is \\\\boxed{2}.", ["tea", "coffee"]).index
        1
    """
    answer = strip_thinking(response)
    if not answer.strip():
        return Extraction(None, "failed", "empty")

    box = last_box(answer)
    if box is not None:
        label = parse_label(box, lettered=lettered, allow_trailing=True)
        if label is not None:
            return _checked(label, len(options), "boxed")
        index = fuzzy_match(box, options)
        if index is not None:
            return Extraction(index, "fuzzy")
    else:
        label = parse_label(answer, lettered=lettered, allow_trailing=False)
        if label is not None:
            return _checked(label, len(options), "label")
        index = fuzzy_match(answer, options)
        if index is not None:
            return Extraction(index, "fuzzy")

    return _ask_judge(judge, question, options, answer)


def strip_thinking(response: str) -> str:
    """Drop a leading `<think>...</think>` block; an unclosed leading `<think>` leaves nothing."""
    match = _THINK.match(response)
    if match:
        return response[match.end() :]
    if response.lstrip().startswith("<think>"):
        return ""
    return response


def last_box(text: str) -> str | None:
    """Return the content of the last `\\boxed`/`\\fbox` in `text`, or None when there is none.

    The braced form is read with balanced braces; the brace-less form (`\\boxed 3`) takes the
    next whitespace-delimited token. An unclosed brace takes the rest of the text.
    """
    content = None
    for match in _BOX_COMMAND.finditer(text):
        start = match.end()
        if start < len(text) and text[start] == "{":
            content = _balanced(text, start)
        else:
            token = re.match(r"[^\s\\$]+", text[start:])
            if token:
                content = token.group(0)
    return content


def _balanced(text: str, open_at: int) -> str:
    depth = 0
    for position in range(open_at, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : position]
    return text[open_at + 1 :]


def normalize_digits(text: str) -> str:
    """Apply NFKC (full-width forms) and map every Unicode decimal digit to its ASCII digit."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in text)


def parse_label(text: str, *, lettered: bool = False, allow_trailing: bool = False) -> int | None:
    """Parse an option label such as `2`, `(2)`, `Option 2`, `2.` or `\\text{2}`; return it 1-based.

    Letters count only when `lettered` (A is 1). With `allow_trailing`, text after a separator is
    accepted (`2. Tea`), as inside a box; without it the whole text must be the label.
    """
    cleaned = normalize_digits(text)
    while True:
        unwrapped = _LATEX_WRAPPER.sub(r"\1", cleaned)
        if unwrapped == cleaned:
            break
        cleaned = unwrapped
    cleaned = cleaned.replace("$", "").replace("{", "").replace("}", "").strip()

    match = _LABEL.match(cleaned)
    if not match:
        return None
    # The rest starts with its separator; only text after the separator counts as trailing.
    trailing = (match.group("rest") or "").strip()[1:].strip()
    if trailing and not allow_trailing:
        return None
    label = match.group("label")
    if label.isdigit():
        return int(label)
    if lettered:
        return LETTERS.index(label.upper()) + 1
    return None


def _checked(label: int, option_count: int, method: str) -> Extraction:
    if 1 <= label <= option_count:
        return Extraction(label - 1, method)
    return Extraction(None, "failed", "out_of_range")


def fuzzy_match(
    text: str,
    options: Sequence[str],
    *,
    threshold: float = FUZZY_THRESHOLD,
    tie_margin: float = FUZZY_TIE_MARGIN,
) -> int | None:
    """Return the 0-based index of the option `text` matches, or None below threshold or on a tie."""
    if not options or not utils.default_process(text):
        return None
    scores = [fuzz.WRatio(text, option, processor=utils.default_process) for option in options]
    ranked = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    best = ranked[0]
    if scores[best] < threshold:
        return None
    if len(ranked) > 1 and scores[best] - scores[ranked[1]] < tie_margin:
        return None
    return best


_reported_judge_errors: set[str] = set()


def _ask_judge(judge, question: str, options: Sequence[str], answer: str) -> Extraction:
    if judge == CONFIGURED_JUDGE:
        try:
            judge = judging.get_option_judge()
        except CultureBenchError as error:
            # A misconfigured judge must not discard a finished generation run.
            if str(error) not in _reported_judge_errors:
                _reported_judge_errors.add(str(error))
                logger.error("option judge unavailable, unresolved answers count as failures: %s", error)
            return Extraction(None, "failed", "judge_error")
    if judge is None:
        return Extraction(None, "failed", "unresolved")

    try:
        index = judge.pick_option(question, list(options), answer)
    except Exception as error:  # noqa: BLE001 - a backend failure on one answer must not stop the run
        logger.warning("option judge failed on one answer (%s: %s); counting it as a failure",
                       type(error).__name__, error)
        return Extraction(None, "failed", "judge_error")
    if index is None:
        return Extraction(None, "failed", "unresolved")
    if not 0 <= index < len(options):
        logger.warning("option judge returned index %r for %d options; counting it as a failure",
                       index, len(options))
        return Extraction(None, "failed", "judge_error")
    return Extraction(index, "judge")
