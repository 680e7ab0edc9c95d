"""Per-sample scoring and the variant aggregations against culturebench.metrics."""

from __future__ import annotations

import math

import pytest

from culturebench import metrics
from culturebench.tasks import prompting, scoring
from culturebench.tasks.docs import item_to_doc
from tests.tasks.conftest import build_items


@pytest.fixture
def doc():
    return item_to_doc(build_items("arabic")[2])  # ksa, localized: answer index 1


def test_mcq_correct_box(doc):
    assert scoring.process_mcq(doc, [r"I think \boxed{2}"]) == {"acc": 1, "extraction_failed": 0}


def test_mcq_wrong_box(doc):
    assert scoring.process_mcq(doc, [r"\boxed{1}"]) == {"acc": 0, "extraction_failed": 0}


def test_mcq_failure_counted(doc, monkeypatch):
    monkeypatch.delenv("CULTUREBENCH_JUDGE", raising=False)
    assert scoring.process_mcq(doc, ["<pad><pad>"]) == {"acc": 0, "extraction_failed": 1}


def test_mcq_fuzzy_answer(doc):
    assert scoring.process_mcq(doc, [doc["options"][1]["text"]])["acc"] == 1


def test_mcq_both_adds_variant_record(doc):
    scores = scoring.process_mcq_both(doc, [r"\boxed{2}"])
    for name in scoring.VARIANT_METRICS:
        assert scores[name] == {"variant": "localized", "correct": 1, "pred": 1}
    failed = scoring.process_mcq_both(doc, ["<pad>"])
    assert failed["rca"] == {"variant": "localized", "correct": 0, "pred": -1}


def test_loglikelihood_raw_and_normalised(doc):
    choices = prompting.cloze_choices(doc)
    # Raw log-likelihood favours option 0; per character, option 1 (the longer one) wins.
    loglikelihoods = [-10.0, -12.0, -30.0, -40.0, -20.0]
    assert len(choices[1]) > len(choices[0])
    assert loglikelihoods[1] / len(choices[1]) > loglikelihoods[0] / len(choices[0])
    results = [(value, False) for value in loglikelihoods]
    assert scoring.process_loglikelihood(doc, results) == {"acc": 0, "acc_norm": 1}
    assert scoring.process_loglikelihood_both(doc, results)["rca"] == {"variant": "localized", "correct": 1, "pred": 1}


def test_aggregations_match_metrics():
    records = [
        {"variant": "localized", "correct": 1},
        {"variant": "localized", "correct": 1},
        {"variant": "localized", "correct": 0},
        {"variant": "nonlocalized", "correct": 1},
        {"variant": "nonlocalized", "correct": 0},
    ]
    assert scoring.aggregate_acc_loc(records) == pytest.approx(2 / 3)
    assert scoring.aggregate_acc_nonloc(records) == pytest.approx(1 / 2)
    assert scoring.aggregate_rca(records) == metrics.rca(2 / 3, 1 / 2)
    assert scoring.aggregate_pnlg(records) == metrics.pnlg(2 / 3, 1 / 2)


def test_one_sided_records_give_nan():
    records = [{"variant": "localized", "correct": 1}]
    assert scoring.aggregate_acc_loc(records) == 1.0
    assert math.isnan(scoring.aggregate_acc_nonloc(records))
    assert math.isnan(scoring.aggregate_rca(records))
    assert math.isnan(scoring.aggregate_pnlg(records))


def test_open_ended_nonempty(doc):
    assert scoring.process_open(doc, ["  answer "]) == {"nonempty": 1}
    assert scoring.process_open(doc, ["   "]) == {"nonempty": 0}


def test_prompting_uses_shared_builder(doc):
    from culturebench import prompts
    from culturebench.tasks.docs import item_from_doc

    item = item_from_doc(doc)
    assert prompting.mcq_text(doc) == prompts.mcq_prompt(item)
    assert prompting.mcq_target(doc) == r"\boxed{2}"
    assert prompting.cloze_text(doc) == prompts.cloze_prompt(item)
    assert prompting.answer_index(doc) == 1
    assert prompting.open_text(doc) == prompts.open_prompt(item)
    assert prompting.open_target(doc) == doc["options"][1]["text"]
