"""The losses the engine trains on, per model: each stack's outputs (K_s, B, ...) -> (K_s,).

A model's loss is its mean over everything but the model axis. (Binary cross-entropy on the
stacks' logits, the sigmoid, the loss and its mean as one autograd node, measured no gain:
0.315 s against 0.316 s of CPU for 1000 steps of one DeepSet, so the loss takes probabilities.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from deepsets.tasks.attention import mixture_nll

# The losses a model can train on, per set: binary cross-entropy on probabilities (the
# exercise), the squared or absolute error of a real output (regression), or the negative
# log-likelihood per point of a set's points (targets (B, N, 3)) under a predicted mixture
# (outputs (B, K, 4): train_on's `output`).
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "bce": F.binary_cross_entropy,
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "mixture_nll": mixture_nll,
}


def per_model(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss `loss` of each model: outputs and targets (K, B, ...) -> (K,)."""
    criterion = LOSSES[loss]

    def mean_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return criterion(p, y, reduction="none").flatten(1).mean(dim=1)  # (K,)

    return mean_loss
