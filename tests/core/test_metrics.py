import math

import pytest

from culturebench import metrics


def test_rca_pnlg_hand_computed():
    assert metrics.rca(0.8, 0.4) == pytest.approx(0.533333, abs=1e-4)
    assert metrics.pnlg(0.8, 0.4) == pytest.approx(0.666667, abs=1e-4)


def test_rca_pnlg_both_zero_are_finite():
    assert metrics.rca(0.0, 0.0) == 0.0
    gap = metrics.pnlg(0.0, 0.0)
    assert math.isfinite(gap)
    assert gap == 0.0


def test_pnlg_alpha_changes_normaliser():
    # mean accuracy 0.6, gap 0.4: alpha 0 gives the raw gap, alpha 2 divides by 0.36.
    assert metrics.pnlg(0.8, 0.4, alpha=0.0) == pytest.approx(0.4)
    assert metrics.pnlg(0.8, 0.4, alpha=2.0) == pytest.approx(0.4 / 0.36, rel=1e-6)


def test_rca_equal_accuracies_is_that_accuracy():
    assert metrics.rca(0.6, 0.6) == pytest.approx(0.6, abs=1e-6)
    assert metrics.pnlg(0.6, 0.6) == 0.0


def test_accuracy_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="acc_loc"):
        metrics.rca(1.5, 0.2)
    with pytest.raises(ValueError, match="acc_nonloc"):
        metrics.pnlg(0.2, -0.1)


def test_signed_gap_sign():
    assert metrics.signed_gap(0.8, 0.4) == pytest.approx(0.4)
    assert metrics.signed_gap(0.3, 0.5) == pytest.approx(-0.2)


def test_normalize_score_maps_to_unit_interval():
    assert metrics.normalize_score(1) == 0.0
    assert metrics.normalize_score(5) == 1.0
    assert metrics.normalize_score(4) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="outside the scale"):
        metrics.normalize_score(6)


def test_dominance_bias_against_uniform():
    chosen = ["egypt", "egypt", "egypt", "morocco", "western", None]
    bias = metrics.dominance_bias(chosen, ["egypt", "ksa", "levantine", "morocco"])
    # egypt chosen 3/6 against a uniform 1/4: ratio 2.0.
    assert bias["egypt"] == pytest.approx(2.0)
    assert bias["morocco"] == pytest.approx((1 / 6) / 0.25)
    assert bias["ksa"] == 0.0


def test_western_preference_rate():
    assert metrics.western_preference([True, False, False, True]) == 0.5


def test_bootstrap_ci_is_seeded_and_contains_mean():
    values = [1.0] * 30 + [0.0] * 20
    first = metrics.bootstrap_ci(values, seed=3)
    second = metrics.bootstrap_ci(values, seed=3)
    assert first == second
    assert first[0] <= 0.6 <= first[1]
    assert first[1] - first[0] < 0.4


def test_bootstrap_ci_constant_values_collapse():
    assert metrics.bootstrap_ci([1.0] * 10) == (1.0, 1.0)


def test_setting_summary_fields():
    summary = metrics.setting_summary([1, 1, 1, 1, 0], [1, 0, 0, 0, 0])
    assert summary["acc_localized"] == pytest.approx(0.8)
    assert summary["acc_nonlocalized"] == pytest.approx(0.2)
    assert summary["rca"] == pytest.approx(metrics.rca(0.8, 0.2))
    assert summary["pnlg"] == pytest.approx(metrics.pnlg(0.8, 0.2))
    low, high = summary["rca_ci"]
    assert low <= summary["rca"] <= high
