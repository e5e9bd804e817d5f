"""The study's figures, each from numbers to a matplotlib Figure: each task's test value per
model (a dot per run, the paper's value with its +- std band) and a few clustering test datasets
with the predicted mixtures of the best and the worst model.

Shape letters: S runs (seeds), E example datasets, N points, K mixture components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.patches import Circle

from deepsets.lab.figures import seeds_by_variant
from deepsets.plots import Figure

Paper = Mapping[str, tuple[float, float | None]]  # model -> (mean, std or None)
Mixture = tuple[np.ndarray, np.ndarray, np.ndarray]  # pi (E, K), mu (E, K, 2), sigma (E, K)
SIGMAS = (1.0, 2.0)  # the circles drawn around each predicted mean, in its sigma


def _paper_marks(fig: Figure, models: Sequence[str], paper: Paper) -> None:
    """The paper's value of each model as a red tick, its +- std as a red band."""
    ax = fig.axes[0]
    for i, m in enumerate(models):
        if m not in paper:
            continue
        mean, std = paper[m]
        if std is not None:
            ax.fill_between([i - 0.3, i + 0.3], mean - std, mean + std, color="tab:red", alpha=0.3)
        label = "paper (+- std)" if i == 0 else "_nolegend_"  # one legend entry
        ax.hlines(mean, i - 0.3, i + 0.3, color="tab:red", lw=2, label=label)
    ax.legend(fontsize=8)


def mae_by_model(values: Mapping[str, Sequence[float]], paper: Paper) -> Figure:
    """Max regression: test MAE per model (log scale), a dot per run, the paper's value."""
    fig = seeds_by_variant(values, "test MAE (log scale)", "Max regression (Table 1)", log=True)
    _paper_marks(fig, list(values), paper)
    return fig


def likelihood_by_model(
    values: Mapping[str, Sequence[float]], paper: Paper, oracle: float
) -> Figure:
    """Clustering: test log-likelihood per point per model, a dot per run, the paper's value,
    the oracle (the true parameters on the same test datasets) as a dashed line."""
    fig = seeds_by_variant(
        values, "test log-likelihood per point", "Amortized clustering (section 5.3)",
        line=oracle, line_label=f"oracle ({oracle:.3f})",
    )  # fmt: skip
    _paper_marks(fig, list(values), paper)
    return fig


def clustering_examples(
    points: np.ndarray, mask: np.ndarray, true_mu: np.ndarray, predicted: Mapping[str, Mixture]
) -> Figure:
    """A row per model, a column per test dataset: its points (E, N, 2) where mask (E, N), the
    true means (E, K, 2) as crosses, each predicted component as circles at SIGMAS sigma, the
    darker the larger its weight pi."""
    E = points.shape[0]
    fig = Figure(figsize=(2.6 * E, 2.7 * len(predicted)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(predicted), E, squeeze=False))
    for row, (name, (pi, mu, sigma)) in zip(axes, predicted.items(), strict=True):
        for e, ax in enumerate(row):
            P = points[e][mask[e]]  # (n, 2)
            ax.plot(P[:, 0], P[:, 1], ".", ms=2, color="grey", alpha=0.6)
            ax.plot(true_mu[e, :, 0], true_mu[e, :, 1], "x", color="k", ms=6)
            for k in range(pi.shape[1]):
                alpha = 0.25 + 0.75 * float(pi[e, k]) / float(pi[e].max())
                for n in SIGMAS:
                    circle = Circle(tuple(mu[e, k]), n * float(sigma[e, k]), fill=False,
                                    color="tab:blue", alpha=alpha, lw=1.5 / n)  # fmt: skip
                    ax.add_patch(circle)
            ax.set_xlim(-5.5, 5.5)
            ax.set_ylim(-5.5, 5.5)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if e == 0:
                ax.set_ylabel(name)
    fig.suptitle("Test datasets: predicted components (1 and 2 sigma), true means as crosses")
    return fig
