"""Figures every study draws the same way: one column per variant with a dot per seed
(`seeds_by_variant`), one line per variant with its band over seeds (`over_seeds`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import NullFormatter

from deepsets.plots import Figure


def seeds_by_variant(
    values: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str,
    line: float | None = None,
    line_label: str = "ceiling",
    log: bool = False,
) -> Figure:
    """One column per variant, one dot per seed, a bar at the mean; a dashed line at `line`."""
    fig = Figure(figsize=(1.3 * len(values) + 2.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for i, seeds in enumerate(values.values()):
        v = np.asarray(seeds, dtype=float)  # (S,)
        ax.bar(i, v.mean(), color="tab:blue", alpha=0.3, width=0.6)
        ax.plot(np.full(v.shape, i) + np.linspace(-0.15, 0.15, len(v)), v, "o", color="tab:blue")
    if line is not None:
        ax.axhline(line, color="k", ls="--", lw=1.2, label=line_label)
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(values)), list(values), fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
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
