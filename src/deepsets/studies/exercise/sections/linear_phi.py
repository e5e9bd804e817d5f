"""Question 7b: the DeepSet without a nonlinearity in phi, and the pooled value per class.

Shape letters: B sets, N objects, S seeds, T steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from deepsets.models import DeepSet
from deepsets.plots import Figure, plot_losses
from deepsets.studies.exercise.plan import Runs, Variant, affine_deepset, exercise_deepset
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings
from deepsets.studies.exercise.verdicts import LN2


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float


@dataclass(frozen=True)
class PooledByClass:
    """The pooled value sum_i phi(x_i) of the first seed's model, per class of the test sets."""

    class_0: Spread
    class_1: Spread


@dataclass(frozen=True)
class LinearPhiResult:
    """Question 7b: the affine-phi DeepSet's scores, and why (its pooled values)."""

    score: Score
    ln2: float
    gap_to_ln2: float
    """|mean final loss - ln 2|."""
    pooled_tanh_phi: PooledByClass
    pooled_affine_phi: PooledByClass


@torch.no_grad()
def pooled(model: DeepSet, test: TestSet) -> tuple[np.ndarray, np.ndarray]:
    """(B,) pooled values of the test sets and (B,) their labels."""
    X, y = test
    return model.embed(X)[:, 0].cpu().numpy(), y[:, 0].cpu().numpy()


def by_class(values: np.ndarray, labels: np.ndarray) -> PooledByClass:
    def spread(c: int) -> Spread:
        v = values[labels == c]
        return Spread(float(v.mean()), float(v.std()))

    return PooledByClass(spread(0), spread(1))


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[LinearPhiResult, dict[str, Figure]]:
    """Score the affine-phi DeepSet; compare its pooled values with the tanh one's."""
    tanh, affine = trained[exercise_deepset(s)], trained[affine_deepset(s)]
    m = score(affine, test, s.final_window)
    values = {"DeepSet, tanh phi": pooled(tanh.deepsets()[0], test)}
    values["DeepSet, affine phi"] = pooled(affine.deepsets()[0], test)
    result = LinearPhiResult(
        score=m,
        ln2=LN2,
        gap_to_ln2=abs(m.final_loss.mean - LN2),
        pooled_tanh_phi=by_class(*values["DeepSet, tanh phi"]),
        pooled_affine_phi=by_class(*values["DeepSet, affine phi"]),
    )
    losses = {"DeepSet, tanh phi": tanh.losses, "DeepSet, affine phi": affine.losses}  # (S, T)
    return result, {
        "linear_pooled": pooled_histograms(values),
        "linear_losses": plot_losses(losses, reference=LN2),
    }


def pooled_histograms(pooled: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """For each model, histograms of its pooled value sum_i phi(x_i) per class.

    pooled: name -> (values (B,), labels (B,)).
    """
    fig = Figure(figsize=(5 * len(pooled), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(pooled)))
    for ax, (name, (v, y)) in zip(axes, pooled.items(), strict=True):
        lo, hi = float(v.min()), float(v.max())
        span = max(hi - lo, 1e-3 * max(1.0, abs(hi)))  # a linear phi pools to one value
        bins = np.linspace(lo - 0.05 * span, hi + 0.05 * span, 60)
        for c, color in ((0, "tab:blue"), (1, "tab:orange")):
            ax.hist(v[y == c], bins=bins, alpha=0.6, color=color, label=f"class {c}")
        ax.set_title(name)
        ax.set_xlabel(r"pooled value $\sum_i \phi(x_i)$")
        ax.legend()
    axes[0].set_ylabel("sets")
    return fig
