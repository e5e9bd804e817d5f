"""Question 7a: how many parameters an MLP needs to match the DeepSet, over a sweep of MLPs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepsets.studies.exercise.plan import Runs, Variant
from deepsets.studies.exercise.scores import Score, Summary, TestSet, score
from deepsets.studies.exercise.settings import StudySettings
from deepsets.studies.exercise.verdicts import matches_deepset


@dataclass(frozen=True)
class SweepRow:
    """One MLP of the sweep, scored over seeds."""

    name: str
    hidden: tuple[int, ...]
    depth: int
    activation: str
    score: Score
    matches: bool
    """Whether it meets the match criterion (`verdicts.matches_deepset`)."""


@dataclass(frozen=True)
class SmallestMatch:
    name: str
    params: int
    ratio_to_deepset: float


@dataclass(frozen=True)
class SweepResult:
    """Question 7a: every MLP of the sweep and the smallest that matches the DeepSet."""

    criterion: str
    rows: tuple[SweepRow, ...]
    smallest_match: SmallestMatch | None

    @property
    def largest_params(self) -> int:
        return max(r.score.params for r in self.rows)


def criterion(deepset: Score) -> str:
    return (
        "accuracy over all sets of every seed >= the DeepSet's worst seed "
        f"({deepset.accuracy.min:.4f}), and mean final loss <= the DeepSet's "
        f"({deepset.final_loss.mean:.4g})"
    )


def row(runs: Runs, s: StudySettings, test: TestSet, deepset: Score) -> SweepRow:
    options = dict(runs.variant.options)
    hidden, activation = tuple(options["hidden"]), str(options["activation"])
    m = score(runs, test, s.final_window)
    return SweepRow(
        runs.variant.name, hidden, len(hidden), activation, m, matches_deepset(m, deepset)
    )


def measure(
    trained: Mapping[Variant, Runs],
    variants: tuple[Variant, ...],
    s: StudySettings,
    test: TestSet,
    deepset: Score,
) -> tuple[SweepResult, dict[str, Figure]]:
    """Score every MLP of the sweep against the DeepSet's `deepset` score."""
    rows = tuple(row(trained[v], s, test, deepset) for v in variants)
    matching = sorted((r for r in rows if r.matches), key=lambda r: r.score.params)
    best = None
    if matching:
        params = matching[0].score.params
        best = SmallestMatch(matching[0].name, params, params / deepset.params)
    result = SweepResult(criterion(deepset), rows, best)
    return result, {"sweep": figure(rows, deepset)}


def figure(rows: Sequence[SweepRow], deepset: Score) -> Figure:
    """Final loss and accuracy over all sets against parameter count (log x), one line per family
    (depth, activation) of MLPs, with the DeepSet as the reference."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for depth, act in sorted({(r.depth, r.activation) for r in rows}):
        family = sorted(
            (r for r in rows if (r.depth, r.activation) == (depth, act)),
            key=lambda r: r.score.params,
        )
        p = np.array([r.score.params for r in family])  # (W,)
        label = f"MLP, {depth} hidden layer{'s' * (depth > 1)}, {act}"
        for ax, stat in ((ax_loss, _final_loss), (ax_acc, _accuracy)):
            v = np.array([stat(r.score).values for r in family])  # (W, S)
            (line,) = ax.plot(p, v.mean(axis=1), "o-", label=label, ms=4)
            ax.fill_between(p, v.min(axis=1), v.max(axis=1), color=line.get_color(), alpha=0.15)
    _deepset_reference(ax_loss, deepset.final_loss.values, deepset.params)
    _deepset_reference(ax_acc, deepset.accuracy.values, deepset.params)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("final training loss (BCE)")
    ax_acc.set_ylabel("accuracy over all sets")
    ax_loss.legend(fontsize=7)
    fig.suptitle("How big must an MLP be to match the DeepSet? (band: min-max over seeds)")
    return fig


def _final_loss(score: Score) -> Summary:
    return score.final_loss


def _accuracy(score: Score) -> Summary:
    return score.accuracy


def _deepset_reference(ax: Axes, values: Sequence[float], params: int) -> None:
    """The DeepSet's mean over seeds as a dashed line and a star at its parameter count."""
    mean = float(np.mean(values))
    ax.axhline(mean, color="k", ls="--", lw=1.2, label="DeepSet (mean over seeds)")
    ax.plot([params], [mean], "k*", ms=12, label=f"DeepSet, {params} params")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.grid(alpha=0.3, which="both")
