"""Figures for the exercise: a batch of sets as an image, loss curves over seeds.

Every function returns a `Figure` (matplotlib's, built without pyplot, shown inline by Jupyter;
every figure the library returns is one) and never calls plt.show(): the caller decides.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib.figure
import numpy as np
import torch

from deepsets.checks import check_placed, check_sets, positive_float, positive_int


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter and IPython display inline (`_repr_png_`), also when
    pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def plot_sets(X: torch.Tensor, y: torch.Tensor, *, max_sets: int = 40) -> Figure:
    """Step 1: `imshow` of up to `max_sets` sets (rows) by object (columns), grouped by class.

    X: (B, N, 1), y: (B, 1).
    """
    check_plotted(X, y)
    max_sets = positive_int(max_sets, "max_sets")
    X, y = X.detach(), y.detach()  # a figure reads values; nothing is differentiated
    rows, labels = X[:max_sets, :, 0].cpu().numpy(), y[:max_sets, 0].cpu().numpy()  # (B, N), (B,)
    order = np.argsort(labels, kind="stable")
    rows, labels = rows[order], labels[order]
    fig = Figure(figsize=(5, 6), layout="constrained")
    ax = fig.subplots()
    vmax = max(1 / 3, float(rows.max()))
    im = ax.imshow(rows, aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=ax, label="feature value x")
    n0 = int((labels == 0).sum())
    ax.axhline(n0 - 0.5, color="white", lw=2)
    ax.set_yticks([(n0 - 1) / 2, n0 + (len(labels) - n0 - 1) / 2])
    ax.set_yticklabels(["class 0\n(3 x 1/3)", "class 1\n(5 x 1/5)"])
    ax.set_xlabel("object")
    ax.set_xticks(range(rows.shape[1]))
    ax.set_title("A batch of sets, grouped by class")
    return fig


def check_plotted(X: object, y: object) -> None:
    """X (B, N, 1) and y (B, 1) sets (`check_sets`), labels in {0, 1}; else a clear error."""
    check_sets(X, y)
    assert isinstance(X, torch.Tensor) and isinstance(y, torch.Tensor)  # checked
    if X.shape[-1] != 1 or y.shape != (X.shape[0], 1):
        raise ValueError(
            f"plot_sets expects X (B, N, 1) and y (B, 1) with B >= 1, "
            f"got {tuple(X.shape)}, {tuple(y.shape)}"
        )
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(
            f"y must hold class labels 0 and 1, got {sorted(set(y.view(-1).tolist()))[:5]}"
        )


def check_runs(runs: object) -> dict[str, np.ndarray]:
    """name -> losses (T,) or (S, T), non-empty, >= 0 (nan allowed: a diverged run); arrays,
    lists or tensors (detached: a tensor that requires grad is read as its values)."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"runs must be a non-empty mapping name -> losses, got {runs!r:.80}")
    out = {}
    for name, losses in runs.items():
        check_placed(losses, f"runs[{name!r}]")
        try:
            L = np.asarray(as_values(losses), dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"runs[{name!r}] must be an array of numbers: {e}") from e
        if L.ndim not in (1, 2) or L.size == 0:
            raise ValueError(
                f"runs[{name!r}] must be losses of shape (T,) or (S, T), got {L.shape}"
            )
        if (L < 0).any():
            raise ValueError(f"runs[{name!r}] holds negative losses; BCE losses are >= 0")
        out[str(name)] = L
    return out


def as_values(losses: object) -> object:
    """Tensors (that may require grad, on any device), alone or in lists, as numpy arrays."""
    if isinstance(losses, torch.Tensor):
        return losses.detach().cpu().double().numpy()
    if isinstance(losses, list | tuple):
        return [as_values(v) for v in losses]
    return losses


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Running mean over the last axis with a `window`-step box (shorter at the start)."""
    window = positive_int(window, "window")
    x = np.asarray(x, dtype=np.float64)
    if window <= 1:
        return x
    c = np.cumsum(x, axis=-1)
    out = c.copy()
    out[..., window:] = c[..., window:] - c[..., :-window]
    n = np.minimum(np.arange(1, x.shape[-1] + 1), window)
    return out / n


def plot_losses(
    runs: Mapping[str, np.ndarray],
    *,
    window: int = 50,
    reference: float | None = None,
    reference_label: str = "ln 2 (chance)",
) -> Figure:
    """Loss curves: for each name, losses (T,) or (S, T) over S seeds -> mean line and min-max
    band, smoothed over `window` steps, on a log axis; `reference` (e.g. ln 2, chance) is drawn
    dashed and labelled `reference_label`."""
    checked = check_runs(runs)
    window = positive_int(window, "window")
    if reference is not None:
        reference = positive_float(reference, "reference")
    if not isinstance(reference_label, str):
        raise TypeError(f"reference_label must be a str, got {type(reference_label).__name__}")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for name, losses in checked.items():
        L = smooth(np.atleast_2d(losses), window)  # (S, T)
        t = np.arange(1, L.shape[1] + 1)
        (line,) = ax.plot(t, L.mean(axis=0), label=f"{name} ({L.shape[0]} seeds)", lw=1.5)
        if L.shape[0] > 1:
            ax.fill_between(t, L.min(axis=0), L.max(axis=0), color=line.get_color(), alpha=0.2)
    if reference is not None:
        ax.axhline(
            reference, color="grey", ls="--", lw=1, label=f"{reference_label} = {reference:.4f}"
        )
    if any((L > 0).any() for L in checked.values()):  # a log scale needs a positive value
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"BCE loss (running mean over {window} steps)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return fig
