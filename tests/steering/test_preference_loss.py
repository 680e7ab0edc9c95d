"""The shared bi-directional preference loss and response-token log-probs."""

from __future__ import annotations

import math

import pytest
import torch

from culturebench.errors import CultureBenchError
from culturebench.steering.preference_loss import preference_loss, response_logps


def test_loss_is_log_two_without_preference():
    equal = torch.tensor([-3.0, -5.0])
    result = preference_loss(equal, equal, equal, equal, direction=1)
    torch.testing.assert_close(result.losses, torch.full((2,), math.log(2.0)))
    assert result.accuracy == 0.0


def test_loss_matches_formula_both_directions():
    policy_chosen, policy_rejected = torch.tensor([-2.0]), torch.tensor([-6.0])
    reference_chosen, reference_rejected = torch.tensor([-3.0]), torch.tensor([-4.0])
    beta = 0.1
    logit = beta * ((-2.0 + 3.0) - (-6.0 + 4.0))
    for direction in (1, -1):
        result = preference_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected,
                                 direction, beta=beta)
        expected = -math.log(1 / (1 + math.exp(-direction * logit)))
        assert result.loss.item() == pytest.approx(expected, rel=1e-6)
        assert result.chosen_rewards.item() == pytest.approx(beta * 1.0)
        assert result.rejected_rewards.item() == pytest.approx(beta * -2.0)
        assert result.margins.item() == pytest.approx(direction * beta * 3.0)
    assert preference_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, 1).accuracy == 1.0
    assert preference_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, -1).accuracy == 0.0


def test_reference_free_drops_reference_terms():
    result = preference_loss(torch.tensor([-2.0]), torch.tensor([-6.0]), None, None, 1, beta=0.5)
    assert result.loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.5 * 4.0))), rel=1e-6)
    with pytest.raises(CultureBenchError, match="both reference"):
        preference_loss(torch.tensor([-2.0]), torch.tensor([-6.0]), torch.tensor([-1.0]), None, 1)


def test_direction_must_be_sign():
    value = torch.tensor([-1.0])
    with pytest.raises(CultureBenchError, match="invalid steering direction 0"):
        preference_loss(value, value, value, value, 0)


def test_gradient_flows_to_policy_only():
    policy = torch.tensor([-2.0, -4.0], requires_grad=True)
    reference = torch.tensor([-2.5, -3.0], requires_grad=True)
    result = preference_loss(policy[:1], policy[1:], reference[:1].detach(), reference[1:].detach(), 1)
    result.loss.backward()
    assert policy.grad[0] < 0 < policy.grad[1]
    assert reference.grad is None


def test_response_logps_sums_per_row():
    logits = torch.randn(5, 7)
    targets = torch.tensor([1, 2, 3, 4, 5])
    rows = torch.tensor([0, 0, 2, 2, 2])
    sums = response_logps(logits, targets, rows, 3)
    expected = torch.log_softmax(logits, -1)[torch.arange(5), targets]
    torch.testing.assert_close(sums, torch.stack([expected[:2].sum(), torch.tensor(0.0), expected[2:].sum()]))
