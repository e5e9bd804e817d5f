"""Step 6 of the exercise: permute the objects of a set and see whether the output moves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.checks import (
    check_finite_parameters,
    check_memory,
    check_placed,
    check_sets,
    is_int,
    positive_int,
)
from deepsets.training import predict


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
        X: the sets to permute (reals, or integer tokens), one permutation applied to every set.
        n_permutations: how many permutations to draw.
        rng: a numpy Generator or seed for `rng.permutation`; None draws fresh ones.

    Returns:
        An InvarianceCheck with the permutations, the outputs and each model's max change.
    """
    models = check_models(models)
    check_sets(X)  # a NaN output would neither pass nor fail the check
    if X.shape[1] < 2:
        shape = tuple(X.shape)
        raise ValueError(f"X must hold sets of at least two objects to permute, got {shape}")
    k = positive_int(n_permutations, "n_permutations")
    copies = (k + 1) * X.numel() * X.element_size()  # every permuted view is a copy of X
    check_memory(copies, f"check_invariance(n_permutations={k}) on X of shape {tuple(X.shape)}")
    rng = check_rng(rng)
    perms = [rng.permutation(X.shape[1]) for _ in range(n_permutations)]
    views = [X] + [X[:, torch.as_tensor(p, device=X.device)] for p in perms]  # each (B, N, F)
    outputs = {}
    for name, model in models.items():
        outputs[name] = np.stack([predict(model, v)[:, 0].cpu().double().numpy() for v in views])
    return InvarianceCheck(perms, outputs)


def check_models(models: object) -> dict[str, nn.Module]:
    """One model or a non-empty dict name -> model, as a dict."""
    if isinstance(models, nn.Module):
        check_finite_parameters(models, "models")
        check_placed(models, "models")
        return {type(models).__name__: models}
    if not isinstance(models, dict):
        raise TypeError(
            f"models must be a torch.nn.Module or a dict name -> model, got {type(models).__name__}"
        )
    if not models:
        raise ValueError("models must name at least one model, got an empty dict")
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module, got {type(model)}")
        check_finite_parameters(model, f"models[{name!r}]")  # NaN outputs never pass or fail
        check_placed(model, f"models[{name!r}]")
    return models


def check_rng(rng: object) -> np.random.Generator:
    """A numpy Generator from a Generator, a non-negative integer seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and not (is_int(rng) and rng >= 0):
        raise ValueError(
            f"rng must be a numpy Generator, a non-negative integer seed or None, got {rng!r}"
        )
    return np.random.default_rng(rng)
