"""Answer extraction: the case table, the fuzzy fallback and the judge fallback."""

from __future__ import annotations

import pytest

from culturebench import judging
from culturebench.extraction import (
    CONFIGURED_JUDGE,
    FUZZY_THRESHOLD,
    extract_choice,
    fuzzy_match,
    last_box,
    normalize_digits,
)

OPTIONS = ["Ful medames with bread", "Toast with butter", "Pancakes and syrup", "Mint tea"]

# (response, expected 0-based index or None, expected method)
CASES = [
    (r"The answer is \boxed{2}.", 1, "boxed"),
    (r"\boxed{1} at first, but on reflection \boxed{3}", 2, "boxed"),
    (r"\boxed{\text{2}}", 1, "boxed"),
    (r"\boxed{{3}}", 2, "boxed"),
    (r"\fbox{2}", 1, "boxed"),
    (r"\boxed 3 was wrong; final: \boxed{2}", 1, "boxed"),
    (r"\boxed{2} then \boxed 4", 3, "boxed"),
    (r"<think>Maybe \boxed{1}?</think> \boxed{3}", 2, "boxed"),
    (r"<think>Surely \boxed{1}.</think>", None, "failed"),
    (r"\boxed{٣}", 2, "boxed"),
    (r"\boxed{۳}", 2, "boxed"),
    (r"\boxed{३}", 2, "boxed"),
    (r"\boxed{３}", 2, "boxed"),
    (r"\boxed{Option 2}", 1, "boxed"),
    (r"\boxed{(2)}", 1, "boxed"),
    (r"\boxed{2.}", 1, "boxed"),
    (r"\boxed{2. Toast with butter}", 1, "boxed"),
    (r"$\boxed{4}$", 3, "boxed"),
    (r"\boxed{5}", None, "failed"),
    (r"\boxed{0}", None, "failed"),
    (r"\boxed{-1}", None, "failed"),
    ("", None, "failed"),
    ("   \n\t", None, "failed"),
    ("2", 1, "label"),
    ("(2)", 1, "label"),
    ("Option 2", 1, "label"),
    ("2.", 1, "label"),
    ("٤", 3, "label"),
    ("7", None, "failed"),
    ("toast with butter", 1, "fuzzy"),
    ("I would say pancakes and syrup.", 2, "fuzzy"),
    (r"\boxed{Mint tea}", 3, "fuzzy"),
    ("Something else entirely", None, "failed"),
    (r"\boxed{B}", None, "failed"),
]


@pytest.mark.parametrize(("response", "index", "method"), CASES)
def test_extraction_table(response, index, method):
    result = extract_choice(response, OPTIONS, judge=None)
    assert result.index == index
    assert result.method == method
    assert result.extraction_failed is (index is None)


def test_out_of_range_reason():
    assert extract_choice(r"\boxed{5}", OPTIONS, judge=None).reason == "out_of_range"
    assert extract_choice("  ", OPTIONS, judge=None).reason == "empty"
    assert extract_choice("no idea", OPTIONS, judge=None).reason == "unresolved"


def test_letters_only_when_lettered():
    assert extract_choice(r"\boxed{B}", OPTIONS, lettered=True, judge=None).index == 1
    assert extract_choice("Option C", OPTIONS, lettered=True, judge=None).index == 2
    assert extract_choice(r"\boxed{Z}", OPTIONS, lettered=True, judge=None).reason == "out_of_range"


def test_label_with_trailing_text_unboxed_uses_fuzzy():
    # An echoed option list must not be read as "option 1".
    result = extract_choice("1. Ful medames with bread\n2. Toast with butter", OPTIONS, judge=None)
    assert result.method != "label"


def test_fuzzy_tie_is_failure():
    options = ["Ful medames with bread", "Ful medames with eggs"]
    assert fuzzy_match("ful medames", options) is None


def test_fuzzy_below_threshold():
    assert fuzzy_match("completely different", OPTIONS) is None
    assert FUZZY_THRESHOLD == 85.0


def test_last_box_balanced_and_unclosed():
    assert last_box(r"\boxed{\text{a{b}c}} tail") == r"\text{a{b}c}"
    assert last_box(r"\boxed{3") == "3"
    assert last_box("no box") is None


def test_normalize_digits_scripts():
    assert normalize_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"
    assert normalize_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"
    assert normalize_digits("०१२३४५६७८९") == "0123456789"
    assert normalize_digits("０１２３") == "0123"


class RecordingJudge:
    """A judge that returns a fixed answer and records its calls."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def pick_option(self, question, options, answer):
        self.calls.append((question, list(options), answer))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_judge_resolves_unmatched_answer():
    judge = RecordingJudge(2)
    result = extract_choice("the sweet one", OPTIONS, question="Breakfast?", judge=judge)
    assert result.index == 2
    assert result.method == "judge"
    assert judge.calls == [("Breakfast?", OPTIONS, "the sweet one")]


def test_judge_not_called_when_box_resolves():
    judge = RecordingJudge(0)
    assert extract_choice(r"\boxed{2}", OPTIONS, judge=judge).index == 1
    assert judge.calls == []


def test_judge_none_and_errors_are_failures():
    assert extract_choice("hmm", OPTIONS, judge=RecordingJudge(None)).reason == "unresolved"
    assert extract_choice("hmm", OPTIONS, judge=RecordingJudge(9)).reason == "judge_error"
    assert extract_choice("hmm", OPTIONS, judge=RecordingJudge(RuntimeError("down"))).reason == "judge_error"


def test_configured_judge_from_environment(monkeypatch):
    judge = RecordingJudge(3)
    monkeypatch.setattr(judging, "_factory", None)
    judging.set_option_judge_factory(lambda spec: judge)
    monkeypatch.setenv(judging.JUDGE_ENV, "stub:judge")
    try:
        assert extract_choice("hmm", OPTIONS, judge=CONFIGURED_JUDGE).method == "judge"
    finally:
        judging._judges.clear()
    monkeypatch.delenv(judging.JUDGE_ENV)
    assert extract_choice("hmm", OPTIONS).reason == "unresolved"


def test_configured_judge_without_backend_does_not_raise(monkeypatch):
    monkeypatch.setattr(judging, "_factory", None)
    monkeypatch.setenv(judging.JUDGE_ENV, "openai:gpt-4o-mini")
    assert extract_choice("hmm", OPTIONS).reason == "judge_error"
