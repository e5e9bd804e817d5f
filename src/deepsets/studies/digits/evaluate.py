"""Accuracy on sets of each test length (the fraction whose rounded prediction is the sum), each
model's accuracy on single objects, and the image task's supervised ceiling on the same sets.

Shape letters: S runs (seeds), L test lengths, B sets, M single objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.engine.forked import fork_map
from deepsets.lab.settings import workers_of
from deepsets.studies.digits.ceiling import (
    Ceiling,
    describe,
    exact_sum_accuracy,
    fit_classifier,
    model_per_image_accuracy,
    per_image_accuracy,
)
from deepsets.studies.digits.settings import MODELS, DigitsSettings
from deepsets.studies.digits.tasks import DIGITS
from deepsets.studies.digits.train import TEST_OFFSET, Trained, task_sets
from deepsets.training import predict

CHUNK = 500  # sets per forward pass: bounds the Set Transformer's attention at 100 digits


@dataclass(frozen=True)
class Evaluation:
    """What one task's trained models measured on the test split."""

    accuracy: dict[str, np.ndarray]
    """Model name -> accuracy (S, L) at each of the settings' lengths."""
    per_object: dict[str, np.ndarray]
    """Model name -> (S,): its output on each single test image (image task) or on each digit
    token 1..9 (text task) as a set of one, rounded, against the digit."""
    ceiling: Ceiling | None
    """The supervised ceiling on the same test sets (image task only)."""


def correct(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> int:
    """How many of the sets X (B, N, F) the model sums right: round(prediction) == y (B, 1)."""
    hits = 0
    for i in range(0, len(y), CHUNK):
        p = predict(model, X[i : i + CHUNK], mask[i : i + CHUNK])  # (b, 1)
        hits += int((p.round() == y[i : i + CHUNK]).sum())
    return hits


@torch.no_grad()
def per_token_accuracy(model: nn.Module) -> float:
    """The fraction of the digits 1..9 whose set of one token the model sums right (rounded)."""
    p = next(model.parameters())
    X = torch.tensor(DIGITS, device=p.device).reshape(-1, 1, 1)  # (M, 1, 1) int64 tokens
    mask = torch.ones(X.shape[:2], dtype=torch.bool, device=p.device)  # (M, 1)
    values = predict(model, X, mask)[:, 0].round().cpu()  # (M,)
    return float((values == X[:, 0, 0].cpu().to(values.dtype)).double().mean())


def per_object(model: nn.Module, task: str) -> float:
    """The model's accuracy on single objects of `task` (the images of the test split)."""
    return per_token_accuracy(model) if task == "text" else model_per_image_accuracy(model)


def evaluate(trained: Trained, s: DigitsSettings, device: torch.device) -> Evaluation:
    """Every model's accuracy at each of `s.lengths` on the test split's sets, its accuracy on
    single objects, and (images) the supervised ceiling.

    The sets of length n come from generator seed + TEST_OFFSET + n, the same for every model
    and run and for the ceiling. The lengths are shared out over the engine's workers (forked
    processes on the CPU): each length's numbers are the same whichever process measures them.
    """
    classifier = fit_classifier() if trained.task == "image" else None
    workers = workers_of(s, device)

    def one(n: int) -> tuple[dict[str, list[float]], float | None]:
        return _one_length(trained, s, device, classifier, n)

    columns = fork_map(one, list(s.lengths), workers)  # per length: model -> (S,), ceiling
    acc = {m: np.array([c[m] for c, _ in columns]).T for m in MODELS}  # (S, L) each
    singles = {
        m: np.array([per_object(model, trained.task) for model in trained.models[m]])
        for m in MODELS
    }
    ceiling = None
    if classifier is not None:
        exact = tuple(e for _, e in columns if e is not None)
        ceiling = Ceiling(describe(), per_image_accuracy(classifier), s.lengths, exact)
    return Evaluation(acc, singles, ceiling)


def _one_length(
    trained: Trained, s: DigitsSettings, device: torch.device, classifier: object, n: int
) -> tuple[dict[str, list[float]], float | None]:
    """Each model's accuracy (per run) on the test sets of n digits, and the ceiling's."""
    X, mask, y = task_sets(trained.task, s.test_sets, (n, n), "test", s.seed + TEST_OFFSET + n)
    exact = None if classifier is None else exact_sum_accuracy(classifier, X, mask, y)
    X, mask, y = X.to(device), mask.to(device), y.to(device)
    acc = {
        m: [correct(model, X, mask, y) / len(y) for model in trained.models[m]] for m in MODELS
    }
    return acc, exact


def accuracies(trained: Trained, s: DigitsSettings, device: torch.device) -> dict[str, np.ndarray]:
    """Model name -> accuracy (S, L) at each of `s.lengths` (`evaluate`'s accuracies)."""
    return evaluate(trained, s, device).accuracy
