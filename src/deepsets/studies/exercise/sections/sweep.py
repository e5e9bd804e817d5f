"""Question 7a: how many parameters an MLP needs to match the DeepSet, over a sweep of MLPs.

Matching is judged by each measure apart (final loss, accuracy over all sets), with the seeds'
spread (`verdicts.as_good`). For each measure, the bracket is the largest MLP that does not
match below the smallest that does; where its two ends are more than RESOLUTION apart in
parameters, a second round trains the sizes between them, in every family of the sweep (depth,
activation), so that the answer has the resolution its claim needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from matplotlib.axes import Axes

from deepsets.plots import Figure
from deepsets.studies.exercise.plan import Runs, Variant, mlp_variant, variant_size
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings
from deepsets.studies.exercise.verdicts import RESOLUTION, as_good

Train = Callable[[list[Variant]], Mapping[Variant, Runs]]  # trains more variants, every seed


@dataclass(frozen=True)
class SweepRow:
    """One MLP of the sweep, scored over seeds."""

    name: str
    hidden: tuple[int, ...]
    depth: int
    activation: str
    score: Score
    matches_loss: bool
    """Final loss as good as the DeepSet's, over seeds (`verdicts.as_good`)."""
    matches_accuracy: bool
    """Accuracy over all sets as good as the DeepSet's, over seeds."""

    @property
    def matches(self) -> bool:
        """Matches the DeepSet by both measures."""
        return self.matches_loss and self.matches_accuracy


@dataclass(frozen=True)
class Size:
    """One MLP of the sweep by name and parameters."""

    name: str
    params: int


@dataclass(frozen=True)
class Bracket:
    """Where the MLPs start to match the DeepSet by one measure."""

    measure: str
    """"final loss" or "accuracy"."""
    below: Size | None
    """The largest MLP smaller than `match` (none of which matches); None: `match` is the
    smallest of the sweep, or none matches."""
    match: Size | None
    """The smallest MLP that matches; None: none does."""

    @property
    def ends(self) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
        """(below, match) as (name, parameters) pairs, as `verdicts.sweep_answer` takes them."""
        below, match = self.below, self.match
        return (
            None if below is None else (below.name, below.params),
            None if match is None else (match.name, match.params),
        )


@dataclass(frozen=True)
class SweepResult:
    """Question 7a: every MLP of the sweep, where they start to match by each measure, and
    the smallest that matches by both."""

    rows: tuple[SweepRow, ...]
    loss: Bracket
    accuracy: Bracket
    smallest_match: Size | None
    """The smallest MLP that matches by both measures (section 8a trains it)."""
    refined: tuple[str, ...]
    """The MLPs the second round added between the ends of a bracket."""

    @property
    def largest_params(self) -> int:
        return max(r.score.params for r in self.rows)


def row(runs: Runs, s: StudySettings, test: TestSet, deepset: Score) -> SweepRow:
    hidden, activation = shape(runs.variant)
    m = score(runs, test, s.final_window)
    loss = as_good(m.final_loss, deepset.final_loss, lower_is_better=True)
    accuracy = as_good(m.accuracy, deepset.accuracy, lower_is_better=False)
    return SweepRow(runs.variant.name, hidden, len(hidden), activation, m, loss, accuracy)


def bracket(rows: Sequence[SweepRow], measure: str, matched: Callable[[SweepRow], bool]) -> Bracket:
    """The smallest row that `matched` and the largest row smaller than it."""
    matching = [r for r in rows if matched(r)]
    if not matching:
        return Bracket(measure, None, None)
    first = min(matching, key=lambda r: r.score.params)
    smaller = [r for r in rows if r.score.params < first.score.params]
    below = max(smaller, key=lambda r: r.score.params, default=None)
    return Bracket(measure, None if below is None else size(below), size(first))


def shape(v: Variant) -> tuple[tuple[int, ...], str]:
    """An MLP variant's hidden widths and activation."""
    options = dict(v.options)
    return tuple(options["hidden"]), str(options["activation"])


def size(r: SweepRow) -> Size:
    return Size(r.name, r.score.params)


def brackets(rows: Sequence[SweepRow]) -> tuple[Bracket, Bracket]:
    return (
        bracket(rows, "final loss", lambda r: r.matches_loss),
        bracket(rows, "accuracy", lambda r: r.matches_accuracy),
    )


def widths_between(lo: int, hi: int, params: Callable[[int], int], sampled: set[int]) -> list[int]:
    """Widths whose sizes (`params`), with the `sampled` ones, step from lo to hi parameters by
    at most RESOLUTION each (as far as a width's step allows), smallest first."""
    out: list[int] = []
    at, w = lo, 1
    while at * RESOLUTION < hi:
        known = [p for p in sampled if at < p <= at * RESOLUTION]
        if known:
            at = max(known)
            continue
        while params(w) <= at:  # the first width above `at`
            w += 1
        while params(w + 1) <= at * RESOLUTION:  # the largest within reach
            w += 1
        if params(w) >= hi:
            break
        out.append(w)
        at = params(w)
    return out


def refinement(rows: Sequence[SweepRow]) -> list[Variant]:
    """The MLPs to train so that, in every family (depth, activation) of the sweep, the sizes
    from its largest below each bracket's lower end up to the bracket's upper end are at most
    RESOLUTION apart: a family that matches below the bracket cannot hide in a gap."""
    wanted: dict[str, Variant] = {}
    families = sorted({(r.depth, r.activation) for r in rows})
    for b in brackets(rows):
        if b.below is None or b.match is None:
            continue
        lo, hi = b.below.params, b.match.params
        for depth, act in families:
            sampled = {r.score.params for r in rows if (r.depth, r.activation) == (depth, act)}
            start = max((p for p in sampled if p <= lo), default=lo)

            def params(w: int, depth: int = depth, act: str = act) -> int:
                return variant_size(mlp_variant((w,) * depth, act))[0]

            for w in widths_between(start, hi, params, sampled):
                v = mlp_variant((w,) * depth, act)
                wanted[v.name] = v
    return list(wanted.values())


def measure(
    trained: Mapping[Variant, Runs],
    variants: Sequence[Variant],
    s: StudySettings,
    test: TestSet,
    deepset: Score,
    train: Train,
    exercise_mlp: Runs,
) -> tuple[SweepResult, dict[str, Figure]]:
    """Score every MLP of the sweep against the DeepSet's `deepset` score (with the exercise's
    MLP where it is one of the sweep's families), then `train` the sizes each bracket lacks and
    score those too."""
    rows = [row(trained[v], s, test, deepset) for v in variants]
    mine = row(exercise_mlp, s, test, deepset)
    family = {(r.depth, r.activation) for r in rows}
    known = {(r.hidden, r.activation) for r in rows}
    if len(set(mine.hidden)) == 1 and (mine.depth, mine.activation) in family:
        if (mine.hidden, mine.activation) not in known:
            name = mlp_variant(mine.hidden, mine.activation).name
            rows.append(replace(mine, name=f"{name} (step 2's)"))
            known.add((mine.hidden, mine.activation))
    extra = [v for v in refinement(rows) if shape(v) not in known]
    if extra:
        more = train(extra)
        rows += [row(more[v], s, test, deepset) for v in extra]
    rows.sort(key=lambda r: (r.activation, r.depth, r.score.params))
    matching = [r for r in rows if r.matches]
    best = min(matching, key=lambda r: r.score.params, default=None)
    result = SweepResult(
        tuple(rows),
        *brackets(rows),
        None if best is None else size(best),
        tuple(v.name for v in extra),
    )
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
        for ax, stat in ((ax_loss, "final_loss"), (ax_acc, "accuracy")):
            v = np.array([getattr(r.score, stat).values for r in family])  # (W, S)
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


def _deepset_reference(ax: Axes, values: Sequence[float], params: int) -> None:
    """The DeepSet's mean over seeds as a dashed line and a star at its parameter count."""
    mean = float(np.mean(values))
    ax.axhline(mean, color="k", ls="--", lw=1.2, label="DeepSet (mean over seeds)")
    ax.plot([params], [mean], "k*", ms=12, label=f"DeepSet, {params} params")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.grid(alpha=0.3, which="both")
