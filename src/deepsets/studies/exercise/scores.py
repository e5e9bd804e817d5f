"""Per-seed numbers and their summaries: the building blocks of every section's results.

Scores are class-balanced, on every distinct set of the task (`deepsets.data.all_sets`, 372
sets of 10 objects): no sampling noise, but every set is also seen in training, so they measure
fit, not generalisation (the sample-efficiency section's question).

Shape letters: S seeds, B sets, N objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.studies.exercise.plan import Runs
from deepsets.training import count_params, evaluate

TestSet = tuple[torch.Tensor, torch.Tensor]  # X (B, N, 1), y (B, 1): e.g. all_sets()


@dataclass(frozen=True)
class Summary:
    """Per-seed values and their mean, standard deviation, minimum and maximum."""

    values: tuple[float, ...]
    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        v = np.asarray(list(values), dtype=float)  # (S,)
        return cls(
            tuple(v.tolist()), float(v.mean()), float(v.std()), float(v.min()), float(v.max())
        )


@dataclass(frozen=True)
class Score:
    """One variant over seeds: its size, final training loss and class-balanced scores."""

    params: int
    final_loss: Summary
    """Mean training loss of each seed's last `final_window` steps."""
    accuracy: Summary
    """Class-balanced accuracy of each seed on the test sets (threshold 0.5)."""
    test_loss: Summary
    """Class-balanced binary cross-entropy of each seed on the test sets."""


def balanced(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss and accuracy of `model` on X (B, N, 1), y (B, 1), each the mean of the two classes'
    means, so that class 1's 252 distinct sets weigh no more than class 0's 120."""
    per_class = [evaluate(model, X[y[:, 0] == c], y[y[:, 0] == c]) for c in (0, 1)]
    return {k: (per_class[0][k] + per_class[1][k]) / 2 for k in ("loss", "accuracy")}


def accuracies(models: Iterable[nn.Module], test: TestSet) -> list[float]:
    """Class-balanced accuracy of each model on the test sets."""
    return [balanced(m, *test)["accuracy"] for m in models]


def score(runs: Runs, test: TestSet, window: int) -> Score:
    """Score every seed of `runs` on the test sets; final loss over the last `window` steps."""
    results = [balanced(m, *test) for m in runs.models]
    return Score(
        params=count_params(runs.models[0]),
        final_loss=Summary.of(runs.final_loss(window)),
        accuracy=Summary.of(r["accuracy"] for r in results),
        test_loss=Summary.of(r["loss"] for r in results),
    )
