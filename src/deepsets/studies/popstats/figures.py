"""The study's figures, from numbers: test MSE against N (the paper's Figure 1, bottom row) and
predicted against true statistics at one N (its top row). Each returns a matplotlib Figure.

Shape letters: S runs (seeds), T test sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from deepsets.plots import Figure
from deepsets.studies.popstats.models import NAMES

TITLES = {
    "rotation": "Rotation: entropy of a marginal (D = 2)",
    "correlation": "Correlation: mutual information (D = 32)",
    "rank1": "Rank 1: entropy (D = 32)",
    "random": "Random covariance: entropy (D = 32)",
}


def panels(n: int, height: float) -> tuple[Figure, np.ndarray]:
    """A figure of n panels in one row (up to 4)."""
    fig = Figure(figsize=(3.3 * n + 0.8, height), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(1, n))


def mse_by_size(
    mse: Mapping[str, Mapping[str, Mapping[int, Sequence[float]]]],
    variance: Mapping[str, float] | None = None,
) -> Figure:
    """Test MSE against N, log-log, a panel per task, a line per method (mean over runs) with a
    min-max band; a dashed line at the variance of the test targets (predicting their mean).

    mse: task -> method -> N -> the runs' test MSEs.
    """
    fig, axes = panels(len(mse), 3.6)
    for ax, (task, by_method) in zip(axes, mse.items(), strict=True):
        for method, by_n in by_method.items():
            Ns = sorted(by_n)
            v = [np.asarray(by_n[N], dtype=float) for N in Ns]  # (S,) each
            (line,) = ax.plot(Ns, [x.mean() for x in v], "o-", ms=3, label=NAMES[method])
            ax.fill_between(Ns, [x.min() for x in v], [x.max() for x in v],
                            color=line.get_color(), alpha=0.25)  # fmt: skip
        if variance is not None:
            ax.axhline(
                variance[task], color="grey", ls="--", lw=1, label="Var(y): predict the mean"
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(TITLES.get(task, task), fontsize=9)
        ax.set_xlabel("N, training sets")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test MSE")
    axes[0].legend(fontsize=7)
    fig.suptitle("Population statistics: test MSE against N (mean over runs, band min-max)")
    return fig


def predicted_vs_true(
    truth: Mapping[str, np.ndarray], predicted: Mapping[str, Mapping[str, np.ndarray]], N: int
) -> Figure:
    """Predicted against true statistics of the test sets, a panel per task, a point per set
    and method, the diagonal for reference. truth: task -> (T,); predicted: task -> method ->
    (T,)."""
    fig, axes = panels(len(truth), 3.5)
    for ax, (task, t) in zip(axes, truth.items(), strict=True):
        lo, hi = float(np.min(t)), float(np.max(t))
        ax.plot([lo, hi], [lo, hi], color="k", lw=1, label="exact")
        for method, p in predicted[task].items():
            ax.plot(t, p, ".", ms=2.5, alpha=0.6, label=NAMES[method])
        ax.set_title(TITLES.get(task, task), fontsize=9)
        ax.set_xlabel("true statistic")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("predicted")
    axes[0].legend(fontsize=7, markerscale=3)
    fig.suptitle(f"Predicted against true statistics of the test sets, N = {N} (first run)")
    return fig
