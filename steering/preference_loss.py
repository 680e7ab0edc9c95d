"""The bi-directional preference loss that BiPO and YaPO share, and response-token log-probs.

For a pair (x, y_w, y_l), direction d ∈ {−1, +1} and the policy steered with d·v (BiPO adds
d·v to h, YaPO applies Φ(h, d·v)):

    loss = −log σ( d·β·( [log π(y_w|steered) − log π(y_w|ref)] − [log π(y_l|steered) − log π(y_l|ref)] ) )

Log-probabilities are sums over the response tokens only (prompt and padding masked). With
`reference="none"` the reference terms are dropped. The methods differ only in the transform
of h, so this module knows nothing about vectors, models or SAEs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from culturebench.errors import CultureBenchError

REFERENCES = ("unsteered", "none")
DEFAULT_BETA = 0.1


@dataclass
class PreferenceLoss:
    """Per-pair results of `preference_loss`, each of shape (batch,).

    `chosen_rewards` and `rejected_rewards` are β·(log π_steered − log π_ref), detached.
    `margins` are d·(chosen − rejected rewards), so a positive margin means the steered
    policy moved in the step's direction.
    """

    losses: Tensor
    chosen_rewards: Tensor
    rejected_rewards: Tensor
    margins: Tensor

    @property
    def loss(self) -> Tensor:
        return self.losses.mean()

    @property
    def accuracy(self) -> float:
        """Fraction of pairs whose margin is positive (preference accuracy in the step's direction)."""
        return float((self.margins > 0).float().mean())


def check_reference(reference: str) -> str:
    """Return `reference` unchanged, or raise when it is not `unsteered` or `none`."""
    if reference not in REFERENCES:
        raise CultureBenchError(f"invalid reference {reference!r}: expected unsteered or none")
    return reference


def check_direction(direction: int) -> int:
    """Return `direction` as an int, or raise when it is not −1 or +1."""
    if direction not in (-1, 1):
        raise CultureBenchError(f"invalid steering direction {direction!r}: expected -1 or +1")
    return int(direction)


def preference_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    reference_chosen: Tensor | None,
    reference_rejected: Tensor | None,
    direction: int,
    *,
    beta: float = DEFAULT_BETA,
) -> PreferenceLoss:
    """Compute the bi-directional preference loss of a batch of pairs.

    Args:
        policy_chosen: summed log-probs of the chosen responses under the steered policy, (batch,).
        policy_rejected: the same for the rejected responses.
        reference_chosen: summed log-probs under the unsteered model, or None to train without
            a reference (`reference="none"`).
        reference_rejected: the same for the rejected responses (None together with the above).
        direction: d, −1 or +1; the policy must already be steered with d·v.
        beta: the inverse temperature β (default 0.1).

    Example:
        >>> result = preference_loss(pc, pr, rc, rr, direction=1)
        >>> result.loss.backward()
    """
    direction = check_direction(direction)
    if (reference_chosen is None) != (reference_rejected is None):
        raise CultureBenchError("give both reference log-probs or neither")
    chosen_ratio = policy_chosen.float()
    rejected_ratio = policy_rejected.float()
    if reference_chosen is not None:
        chosen_ratio = chosen_ratio - reference_chosen.float()
        rejected_ratio = rejected_ratio - reference_rejected.float()

    logits = direction * beta * (chosen_ratio - rejected_ratio)
    losses = -F.logsigmoid(logits)
    chosen_rewards = beta * chosen_ratio.detach()
    rejected_rewards = beta * rejected_ratio.detach()
    return PreferenceLoss(
        losses=losses,
        chosen_rewards=chosen_rewards,
        rejected_rewards=rejected_rewards,
        margins=direction * (chosen_rewards - rejected_rewards),
    )


def response_logps(logits: Tensor, targets: Tensor, rows: Tensor, batch_size: int) -> Tensor:
    """Sum the log-probabilities of response tokens per sequence.

    Args:
        logits: (n_tokens, vocab) logits that predict each response token (the logits at the
            position before it), in any dtype; the softmax runs in fp32.
        targets: (n_tokens,) ids of the response tokens.
        rows: (n_tokens,) index of the sequence each token belongs to.
        batch_size: number of sequences.

    Returns:
        (batch_size,) fp32 sums; a sequence without response tokens gets 0.
    """
    token_logps = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    sums = torch.zeros(batch_size, dtype=token_logps.dtype, device=token_logps.device)
    return sums.index_add(0, rows, token_logps)
