"""Per-seed numbers and their summaries: the building blocks of every section's results.

Shape letters: S seeds, B held-out sets, N objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.study.plan import Runs
from deepsets.training import count_params, evaluate

TestSet = tuple[torch.Tensor, torch.Tensor]  # X (B, N, 1), y (B, 1)


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
    """One variant over seeds: its size, final training loss and held-out performance."""

    params: int
    final_loss: Summary
    """Mean training loss of each seed's last `final_window` steps."""
    accuracy: Summary
    """Held-out accuracy of each seed (threshold 0.5)."""
    test_loss: Summary
    """Held-out binary cross-entropy of each seed."""


def accuracies(models: Iterable[nn.Module], test: TestSet) -> list[float]:
    """Held-out accuracy of each model."""
    return [evaluate(m, *test)["accuracy"] for m in models]


def score(runs: Runs, test: TestSet, window: int) -> Score:
    """Score every seed of `runs` on the held-out set; final loss over the last `window` steps."""
    results = [evaluate(m, *test) for m in runs.models]
    return Score(
        params=count_params(runs.models[0]),
        final_loss=Summary.of(runs.final_loss(window)),
        accuracy=Summary.of(r["accuracy"] for r in results),
        test_loss=Summary.of(r["loss"] for r in results),
    )
