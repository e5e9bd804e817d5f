"""The study's figures: accuracy against the number of digits (the paper's Figure 2) and the
training curves. Each function takes numbers and returns a matplotlib Figure.

Shape letters: S runs (seeds), L test lengths, T training steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from deepsets.plots import Figure, smooth
from deepsets.studies.digits.models import NAMES

TITLES = {"text": "Digits as text", "image": "Digits as images (8x8 scans)"}


def accuracy_by_length(
    lengths: Sequence[int],
    accuracy: Mapping[str, Mapping[str, np.ndarray]],
    train_sizes: tuple[int, int],
    ceiling: Mapping[int, float] | None = None,
    paper: Mapping[int, float] | None = None,
) -> Figure:
    """Figure 2: accuracy against the number of digits, a panel per task, a line per model
    (mean over runs) with a min-max band, the training range shaded; on the image panel the
    supervised ceiling (dashed) and the paper's image DeepSet (its points, MNIST8m).

    accuracy: task -> model -> (S, L); ceiling, paper: length -> accuracy.
    """
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(accuracy), sharey=True))
    for ax, (task, by_model) in zip(axes, accuracy.items(), strict=True):
        ax.axvspan(train_sizes[0], train_sizes[1], color="grey", alpha=0.15, label="training sizes")
        for model, acc in by_model.items():
            acc = np.atleast_2d(acc)  # (S, L)
            (line,) = ax.plot(lengths, acc.mean(axis=0), "o-", ms=3, label=NAMES[model])
            ax.fill_between(
                lengths, acc.min(axis=0), acc.max(axis=0), color=line.get_color(), alpha=0.2
            )
        if task == "image" and ceiling:
            ns = sorted(ceiling)
            ax.plot(ns, [ceiling[n] for n in ns], "k--", lw=1.2, label="supervised ceiling")
        if task == "image" and paper:
            ns = sorted(paper)
            ax.plot(ns, [paper[n] for n in ns], "kx", ms=7, label="paper's DeepSet (MNIST8m)")
        ax.set_title(TITLES.get(task, task))
        ax.set_xlabel("number of digits in the test set")
        ax.legend(fontsize=7)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (rounded prediction = sum)")
    runs = np.atleast_2d(next(iter(next(iter(accuracy.values())).values()))).shape[0]
    fig.suptitle(f"Sums of digits: mean over {runs} runs, band min-max")
    return fig


def training_curves(
    losses: Mapping[str, Mapping[str, np.ndarray]],
    phases: Mapping[str, Sequence[int]] | None = None,
    window: int = 50,
) -> Figure:
    """The mean absolute error along training (running mean over `window` steps, log y), a panel
    per task: losses task -> model -> (S, T); dotted lines where a second phase starts
    (phases: task -> those steps)."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(losses), sharey=True))
    for ax, (task, by_model) in zip(axes, losses.items(), strict=True):
        for model, L in by_model.items():
            L = smooth(np.atleast_2d(L), min(window, L.shape[-1]))  # (S, T)
            t = np.arange(1, L.shape[1] + 1)
            (line,) = ax.plot(t, L.mean(axis=0), lw=1.2, label=NAMES[model])
            ax.fill_between(t, L.min(axis=0), L.max(axis=0), color=line.get_color(), alpha=0.2)
        for k, phase in enumerate((phases or {}).get(task, ())):
            label = "second phase (fine_lr)" if k == 0 else None
            ax.axvline(phase, color="grey", ls=":", lw=1, label=label)
        ax.set_yscale("log")
        ax.set_title(TITLES.get(task, task))
        ax.set_xlabel("training step")
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"training MAE (running mean, {window} steps)")
    return fig
