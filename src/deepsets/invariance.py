"""Step 6 of the exercise: permute the objects of a set and see whether the output moves."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.training import run_model


@dataclass
class InvarianceCheck:
    """Outputs of each model on the original sets and on each permutation of their objects."""

    permutations: list[np.ndarray]
    """The k permutations of range(N) that were applied, from `rng.permutation(N)`."""
    outputs: dict[str, np.ndarray]
    """name -> (k + 1, B) outputs: row 0 on the original order, row j on permutation j."""

    @property
    def max_change(self) -> dict[str, float]:
        """name -> largest |output(permuted) - output(original)| over permutations and sets."""
        return {name: float(np.abs(o[1:] - o[0]).max()) for name, o in self.outputs.items()}


@torch.no_grad()
def check_invariance(
    models: dict[str, nn.Module] | nn.Module,
    X: torch.Tensor,
    n_permutations: int = 3,
    *,
    rng: np.random.Generator | int | None = None,
) -> InvarianceCheck:
    """Apply `n_permutations` random permutations to the objects of X (B, N, F) and run each model.

    Arguments:
        models: one model or a dict name -> model, each mapping (B, N, F) to (B, 1).
        X: the sets to permute; one permutation is applied to every set of the batch.
        n_permutations: how many permutations to draw.
        rng: a numpy Generator or seed for `rng.permutation`; None draws fresh ones.

    Returns:
        An InvarianceCheck with the permutations, the outputs and each model's max change.
    """
    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module, got {type(model)}")
    if not isinstance(X, torch.Tensor) or X.dim() != 3:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (B, N, F), got {shape}")
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, numbers.Integral)
        or n_permutations < 1
    ):
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    rng = np.random.default_rng(rng)
    perms = [rng.permutation(X.shape[1]) for _ in range(n_permutations)]
    views = [X] + [X[:, torch.as_tensor(p, device=X.device)] for p in perms]  # each (B, N, F)
    outputs = {}
    for name, model in models.items():
        was_training = model.training
        model.eval()
        outputs[name] = np.stack([run_model(model, v)[:, 0].cpu().double().numpy() for v in views])
        model.train(was_training)
    return InvarianceCheck(perms, outputs)
