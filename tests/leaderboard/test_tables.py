"""Leaderboard rows: metrics equal culturebench.metrics on the samples, best marks, bias, fallbacks."""

from __future__ import annotations

import json

import pytest

from culturebench import metrics
from culturebench.leaderboard.discover import collect_inputs
from culturebench.leaderboard.tables import Calculator, languages_present, countries_present
from tests.leaderboard.study import build_items, write_lm_eval_output


@pytest.fixture(scope="module")
def calculator():
    return Calculator()


@pytest.fixture(scope="module")
def arabic_rows(inputs, calculator):
    return {row.run.key: row for row in calculator.rows(inputs.runs, language="arabic")}


@pytest.mark.parametrize("method", ["baseline", "caa", "sas", "bipo", "yapo"])
@pytest.mark.parametrize("language", ["arabic", "english"])
def test_mcq_row_equals_metrics(inputs, calculator, study, method, language):
    [row] = [row for row in calculator.rows(inputs.runs, language=language) if row.run.key == method]
    expected = metrics.setting_summary(study.correct[(method, language, "localized")],
                                       study.correct[(method, language, "nonlocalized")])

    assert row.mcq.acc_loc.value == expected["acc_localized"]
    assert list(row.mcq.acc_loc.ci) == expected["acc_localized_ci"]
    assert row.mcq.acc_nonloc.value == expected["acc_nonlocalized"]
    assert row.mcq.rca.value == expected["rca"]
    assert list(row.mcq.rca.ci) == expected["rca_ci"]
    assert row.mcq.pnlg.value == expected["pnlg"]
    assert list(row.mcq.pnlg.ci) == expected["pnlg_ci"]
    assert (row.mcq.n_loc, row.mcq.n_nonloc) == (expected["n_localized"], expected["n_nonlocalized"])


def test_open_ended_row_uses_judge_scores(arabic_rows, study):
    row = arabic_rows["yapo"]
    localized = study.judge_scores[("yapo", "arabic", "localized")]
    nonlocalized = study.judge_scores[("yapo", "arabic", "nonlocalized")]

    assert row.oe.acc_loc.value == pytest.approx(metrics.accuracy(localized))
    assert row.oe.rca.value == pytest.approx(metrics.rca(metrics.accuracy(localized), metrics.accuracy(nonlocalized)))
    assert row.oe.failures == 1
    assert row.oe.unjudged == 0
    assert row.oe.n_loc + row.oe.n_nonloc == 39


def test_best_marks_ok_rows_only(arabic_rows):
    ok_rows = [row for row in arabic_rows.values() if row.run.ok and row.mcq]
    best_rca = max(row.mcq.rca.value for row in ok_rows)
    best_pnlg = min(row.mcq.pnlg.value for row in ok_rows)

    for row in ok_rows:
        assert ("mcq_rca" in row.best) == (row.mcq.rca.value == best_rca)
        assert ("mcq_pnlg" in row.best) == (row.mcq.pnlg.value == best_pnlg)
    assert arabic_rows["bipo-both-failed"].best == set()


def test_failed_run_listed_under_declared_language(arabic_rows, inputs, calculator):
    failed = arabic_rows["bipo-both-failed"]
    english = [row.run.key for row in calculator.rows(inputs.runs, language="english")]
    morocco = [row.run.key for row in calculator.rows(inputs.runs, language="arabic", country="morocco")]

    assert failed.mcq is None
    assert failed.oe is None
    assert "bipo-both-failed" not in english
    assert "bipo-both-failed" in morocco


def test_dominance_bias_equals_metrics(inputs, calculator, runs_by_key):
    [row] = [row for row in calculator.bias(inputs.runs, "arabic") if row.run.key == "baseline"]
    samples = [s for s in runs_by_key["baseline"].tasks["culture_arabic_both_ll"].samples]
    nonlocalized = [s.chosen_country for s in samples if s.variant == "nonlocalized"]
    localized = [s.chosen_country == "western" for s in samples if s.variant == "localized"]

    assert row.dominance == metrics.dominance_bias(nonlocalized, ("egypt", "ksa", "levantine", "morocco"))
    assert row.dominance["egypt"] > 1.0
    assert row.western_loc.value == metrics.western_preference(localized)
    assert row.western_loc.ci == metrics.bootstrap_ci([float(value) for value in localized])
    assert row.n_nonlocalized == 20


def test_languages_and_countries_present(inputs):
    assert languages_present(inputs.runs) == ["arabic", "english"]
    assert countries_present(inputs.runs, "arabic") == ["egypt", "ksa", "levantine", "morocco"]
    assert countries_present(inputs.runs, "english") == ["usa", "uk", "australia"]


def test_aggregates_used_without_samples(tmp_path):
    from tests.leaderboard.study import _ll_record

    items = build_items("english")
    records = [_ll_record(i, item, item["answer"]) for i, item in enumerate(items)]
    path = write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                                {"culture_english_both_ll": ("multiple_choice", "english", records)})
    for samples in path.parent.glob("samples_*.jsonl"):
        samples.unlink()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["results"]["culture_english_both_ll"].update({"acc_loc,none": 0.8, "acc_nonloc,none": 0.4})
    path.write_text(json.dumps(data), encoding="utf-8")
    [row] = Calculator().rows(collect_inputs([tmp_path]).runs, language="english")

    assert row.mcq.source == "aggregate"
    assert row.mcq.acc_loc.value == 0.8
    assert row.mcq.acc_loc.ci is None
    assert row.mcq.rca.value == pytest.approx(metrics.rca(0.8, 0.4))
    assert row.mcq.pnlg.value == pytest.approx(metrics.pnlg(0.8, 0.4))


def test_one_variant_has_no_rca(tmp_path):
    from tests.leaderboard.study import _ll_record

    items = [item for item in build_items("english") if item["variant"] == "localized"]
    records = [_ll_record(i, item, item["answer"]) for i, item in enumerate(items)]
    write_lm_eval_output(tmp_path, {"pretrained": "m"}, "hf",
                         {"culture_english_loc_ll": ("multiple_choice", "english", records)})
    [row] = Calculator().rows(collect_inputs([tmp_path]).runs, language="english")

    assert row.mcq.acc_loc.value == 1.0
    assert row.mcq.acc_nonloc.value is None
    assert row.mcq.rca.value is None
    assert row.mcq.pnlg.value is None


def test_alpha_changes_pnlg(inputs, study):
    [row] = [r for r in Calculator(alpha=0.5).rows(inputs.runs, language="english") if r.run.key == "baseline"]
    localized = metrics.accuracy(study.correct[("baseline", "english", "localized")])
    nonlocalized = metrics.accuracy(study.correct[("baseline", "english", "nonlocalized")])

    assert row.mcq.pnlg.value == pytest.approx(metrics.pnlg(localized, nonlocalized, alpha=0.5))
