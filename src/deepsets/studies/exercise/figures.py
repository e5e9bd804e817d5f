"""The figures several sections draw: pooled values, learned phi, curves over seeds.

Every function takes numbers and returns a matplotlib Figure. Shape letters: S seeds, B sets.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.ticker import NullFormatter

from deepsets.plots import Figure


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


def phi_curves(x: np.ndarray, curves: Mapping[str, np.ndarray]) -> Figure:
    """The learned phi as a function on [0, 1]: for each name, (S, len(x)) curves over seeds.

    The three values the data takes (0, 1/5, 1/3) are marked.
    """
    fig = Figure(figsize=(5 * len(curves), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(curves)))
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        for s, curve in enumerate(np.atleast_2d(c)):
            ax.plot(x, curve, lw=1.2, label=f"seed {s}")
        for v, lab in ((0.0, "0"), (0.2, "1/5"), (1 / 3, "1/3")):
            ax.axvline(v, color="grey", ls=":", lw=1)
            ax.text(v, 1.0, lab, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
        ax.set_title(name, pad=14)
        ax.set_xlabel("object value x")
        ax.set_ylabel(r"$\phi(x)$")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig


def over_seeds(
    x: list[int], values: Mapping[str, np.ndarray], labels: tuple[str, str, str], chance: bool
) -> Figure:
    """One line per name (mean over seeds) with a min-max band, against x on a log axis:
    name -> (S, len(x)); labels: the x label, the y label and the title."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for name, v in values.items():
        v = np.atleast_2d(v)  # (S, len(x))
        (line,) = ax.plot(x, v.mean(axis=0), "o-", label=name)
        ax.fill_between(x, v.min(axis=0), v.max(axis=0), color=line.get_color(), alpha=0.15)
    if chance:
        ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_xticks(x, [str(v) for v in x])
    ax.xaxis.set_minor_formatter(NullFormatter())  # only the measured x values are labelled
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(labels[2])
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
