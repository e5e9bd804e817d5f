"""Beyond the exercise: the learned phi drawn on [0, 1], and its values at the data's inputs.

Shape letters: S seeds, X points on [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from deepsets.plots import Figure
from deepsets.studies.exercise import figures
from deepsets.studies.exercise.plan import Poolings, Runs, Variant

DATA_VALUES = (0.0, 1 / 5, 1 / 3)  # the only values an object of make_data takes


@dataclass(frozen=True)
class PhiAtInputs:
    """Each seed's phi at the data's three values."""

    phi_0: tuple[float, ...]
    phi_fifth: tuple[float, ...]
    """(S,) phi(1/5)."""
    phi_third: tuple[float, ...]
    """(S,) phi(1/3)."""
    max_is_phi0: tuple[bool, ...]
    """(S,) phi(0) >= phi(1/5), phi(1/3): max pooling then pools phi(0) for every set."""


@dataclass(frozen=True)
class LearnedPhiResult:
    sum_pooling: PhiAtInputs
    mean_pooling: PhiAtInputs
    max_pooling: PhiAtInputs


@torch.no_grad()
def at_inputs(runs: Runs, device: torch.device) -> PhiAtInputs:
    x = torch.tensor(DATA_VALUES, device=device)[:, None]  # (3, 1)
    v = np.stack([m.phi(x)[:, 0].cpu().numpy() for m in runs.deepsets()])  # (S, 3)
    blind = v[:, 0] >= v[:, 1:].max(axis=1)  # (S,)
    return PhiAtInputs(
        phi_0=tuple(v[:, 0].tolist()),
        phi_fifth=tuple(v[:, 1].tolist()),
        phi_third=tuple(v[:, 2].tolist()),
        max_is_phi0=tuple(blind.tolist()),
    )


@torch.no_grad()
def curves(runs: Runs, x: torch.Tensor) -> np.ndarray:
    """(S, X) each seed's phi at the points x (X,)."""
    return np.stack([m.phi(x[:, None])[:, 0].cpu().numpy() for m in runs.deepsets()])


def measure(
    trained: Mapping[Variant, Runs], v: Poolings, device: torch.device
) -> tuple[LearnedPhiResult, dict[str, Figure]]:
    runs = {
        "sum pooling": trained[v.sum_pooling],
        "mean pooling": trained[v.mean_pooling],
        "max pooling": trained[v.max_pooling],
    }
    x = torch.linspace(0, 1, 101, device=device)  # (X,)
    fig = figures.phi_curves(x.cpu().numpy(), {k: curves(r, x) for k, r in runs.items()})
    result = LearnedPhiResult(*(at_inputs(r, device) for r in runs.values()))
    return result, {"phi": fig}
