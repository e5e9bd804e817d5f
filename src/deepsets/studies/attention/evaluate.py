"""Test numbers: the max regression's mean absolute error, the clustering's log-likelihood per
point (each test dataset's mean over its points, then the mean over datasets), the oracle's.

Shape letters: S runs (seeds), B sets, N objects, K mixture components.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from deepsets.studies.attention.settings import CHUNK
from deepsets.studies.attention.tasks import (
    MIXTURE_OUTPUTS,
    MixtureSets,
    log_likelihood,
    mixture_parameters,
    oracle_log_likelihood,
)
from deepsets.training import predict

MAX_CHUNK = 2000  # max-regression sets (at most 10 numbers each) per forward pass


def test_mae(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> float:
    """Mean absolute error of the model's maxima on X (B, N, 1) against y (B, 1)."""
    total = 0.0
    for i in range(0, len(y), MAX_CHUNK):
        p = predict(model, X[i : i + MAX_CHUNK], mask[i : i + MAX_CHUNK])  # (b, 1)
        total += float((p - y[i : i + MAX_CHUNK]).abs().sum())
    return total / len(y)


def components(
    model: nn.Module, sets: MixtureSets, K: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model's mixtures of `sets`: log pi (B, K), mu (B, K, 2), sigma (B, K), in float64."""
    parts: list[tuple[torch.Tensor, ...]] = []
    for i in range(0, sets.points.shape[0], CHUNK):
        P, M = sets.points[i : i + CHUNK], sets.mask[i : i + CHUNK]
        p = predict(model, P, M, (K, MIXTURE_OUTPUTS))  # (b, K, 4)
        parts.append(tuple(t.double().cpu() for t in mixture_parameters(p)))
    log_pi, mu, sigma = (torch.cat(ts) for ts in zip(*parts, strict=True))
    return log_pi, mu, sigma


def test_log_likelihood(model: nn.Module, sets: MixtureSets, K: int) -> np.ndarray:
    """Each test dataset's mean log-likelihood per point under the model's mixture (B,)."""
    log_pi, mu, sigma = components(model, sets, K)
    ll = log_likelihood(sets.points.double().cpu(), sets.mask.cpu(), log_pi, mu, sigma)  # (B,)
    out: np.ndarray = ll.numpy()
    return out


def oracle(sets: MixtureSets) -> np.ndarray:
    """Each test dataset's log-likelihood per point under its true mixture (B,)."""
    out: np.ndarray = oracle_log_likelihood(sets).cpu().numpy()
    return out
