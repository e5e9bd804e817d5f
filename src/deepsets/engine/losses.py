"""The losses the engine trains on, per model: each stack's outputs (K_s, B, ...) -> (K_s,),
a model's loss its mean over everything but the model axis."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[..., torch.Tensor]  # (outputs, targets, reduction="mean"|"sum"|"none") -> loss

# binary cross-entropy on probabilities, errors of a real output, and the studies' (`register_loss`)
LOSSES: dict[str, Loss] = {
    "bce": F.binary_cross_entropy,
    "mse": F.mse_loss,
    "mae": F.l1_loss,
}


def register_loss(name: str, loss: Loss) -> None:
    """Make `loss` trainable as `train_on(..., loss=name)`; a name is registered once."""
    if LOSSES.get(name, loss) is not loss:
        raise ValueError(f"a different loss is already registered as {name!r}")
    LOSSES[name] = loss


def per_model(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss `loss` of each model: outputs and targets (K, B, ...) -> (K,)."""
    criterion = LOSSES[loss]

    def mean_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return criterion(p, y, reduction="none").flatten(1).mean(dim=1)  # (K,)

    return mean_loss
