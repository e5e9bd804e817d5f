"""Accuracy on sets of each test length: the fraction whose rounded prediction is the sum.

Shape letters: S runs (seeds), L test lengths, B sets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepsets.studies.digits.settings import MODELS, DigitsSettings
from deepsets.studies.digits.train import TEST_OFFSET, Trained, task_sets
from deepsets.training import predict

CHUNK = 500  # sets per forward pass: bounds the Set Transformer's attention at 100 digits


def correct(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> int:
    """How many of the sets X (B, N, F) the model sums right: round(prediction) == y (B, 1)."""
    hits = 0
    for i in range(0, len(y), CHUNK):
        p = predict(model, X[i : i + CHUNK], mask[i : i + CHUNK])  # (b, 1)
        hits += int((p.round() == y[i : i + CHUNK]).sum())
    return hits


def accuracies(trained: Trained, s: DigitsSettings, device: torch.device) -> dict[str, np.ndarray]:
    """Model name -> accuracy (S, L) at each of `s.lengths`, on the test split's sets.

    The sets of length n come from generator seed + TEST_OFFSET + n, the same for every model
    and run.
    """
    acc = {m: np.zeros((len(trained.models[m]), len(s.lengths))) for m in MODELS}
    for j, n in enumerate(s.lengths):
        X, mask, y = task_sets(trained.task, s.test_sets, (n, n), "test", s.seed + TEST_OFFSET + n)
        X, mask, y = X.to(device), mask.to(device), y.to(device)
        for m in MODELS:
            for k, model in enumerate(trained.models[m]):
                acc[m][k, j] = correct(model, X, mask, y) / len(y)
    return acc
