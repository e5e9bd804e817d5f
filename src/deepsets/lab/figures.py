"""Figures every study draws the same way (one column per variant, a dot per seed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

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
