"""Question 7a: how many parameters an MLP needs to match the DeepSet, over a sweep of MLPs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib.figure import Figure

from deepsets.studies.exercise import figures
from deepsets.studies.exercise.plan import Plan, Runs, Variant, sweep_variants
from deepsets.studies.exercise.scores import Score, TestSet, score
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


def declare(plan: Plan, s: StudySettings) -> tuple[Variant, ...]:
    return tuple(plan.declare(v) for v in sweep_variants(s))


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
    return result, {"sweep": figures.sweep(rows, deepset)}
