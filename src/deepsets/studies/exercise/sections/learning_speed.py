"""Is learning faster with the symmetry? Steps to a low loss and to 100% accuracy, per seed,
and the area under the mean loss curve.

Both come from the exercise models' own training: steps to the loss threshold from their
losses, and the accuracy along training from snapshots of the same run at a few checkpoints
(`train_many(snapshots=...)`); the last checkpoint is the end of the run.

Shape letters: S seeds, T steps, C checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from deepsets.plots import Figure
from deepsets.studies.exercise import figures
from deepsets.studies.exercise.plan import (
    Runs,
    Variant,
    checkpoints,
    exercise_deepset,
    exercise_mlp,
)
from deepsets.studies.exercise.scores import TestSet, accuracies
from deepsets.studies.exercise.settings import StudySettings

LOSS_THRESHOLD = 0.01  # "learned": the running training loss stays below this
WINDOW = 100  # steps in the running mean of the training loss (fewer if the run is shorter)


@dataclass(frozen=True)
class Speed:
    """One model's learning speed, per seed (None: not reached within the run)."""

    steps_to_loss: tuple[int | None, ...]
    """(S,) the step from which the running loss stays below the threshold to the end."""
    accuracy: tuple[tuple[float, ...], ...]
    """(C, S) class-balanced accuracy over all sets at each checkpoint."""
    steps_to_all_correct: tuple[int | None, ...]
    """(S,) the first checkpoint at which every set is classified correctly."""
    loss_area: float
    """The area under the mean training loss curve over seeds: the sum over steps of the mean
    loss (loss x steps; a model that learns sooner leaves less)."""


@dataclass(frozen=True)
class LearningSpeedResult:
    loss_threshold: float
    window: int
    checkpoints: tuple[int, ...]
    """(C,) steps at which accuracy is measured; the last is the main run's end."""
    deepset: Speed
    mlp: Speed


def steps_below(losses: np.ndarray, threshold: float, window: int) -> int | None:
    """The first step t (1-based) such that the mean loss of every `window` consecutive steps
    ending at t or later is below `threshold`; None if the last window's is not.

    losses: (T,) per-step training loss, T >= window.
    """
    running = np.convolve(losses, np.ones(window) / window, mode="valid")  # (T - window + 1,)
    above = np.flatnonzero(running >= threshold)  # window i ends at step i + window
    if above.size == 0:
        return window
    if above[-1] == running.size - 1:
        return None
    return int(above[-1]) + 1 + window


def first_all_correct(accuracy: np.ndarray, at: Sequence[int]) -> list[int | None]:
    """(S,) per seed, the first of the checkpoints `at` whose accuracy (C, S) is 1."""
    return [
        next((c for c, a in zip(at, column, strict=True) if a == 1.0), None)
        for column in accuracy.T
    ]


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, sets: TestSet
) -> tuple[LearningSpeedResult, dict[str, Figure]]:
    """Steps to the loss threshold and accuracy at each checkpoint, from the main run."""
    main = [trained[exercise_deepset(s)], trained[exercise_mlp(s)]]
    at, window = checkpoints(s.steps), min(WINDOW, s.steps)
    by_checkpoint = [[list(r.snapshots[c]) for r in main] for c in at[:-1]]
    by_checkpoint.append([list(r.models) for r in main])
    speeds = []
    for i, runs in enumerate(main):
        acc = np.array([accuracies(models[i], sets) for models in by_checkpoint])  # (C, S)
        speeds.append(
            Speed(
                steps_to_loss=tuple(steps_below(r, LOSS_THRESHOLD, window) for r in runs.losses),
                accuracy=tuple(tuple(row) for row in acc.tolist()),
                steps_to_all_correct=tuple(first_all_correct(acc, at)),
                loss_area=float(runs.losses.mean(axis=0).sum()),  # (S, T) -> (T,) -> area
            )
        )
    result = LearningSpeedResult(LOSS_THRESHOLD, window, at, *speeds)
    curves = {"DeepSet": np.array(speeds[0].accuracy).T, "MLP": np.array(speeds[1].accuracy).T}
    labels = (
        "training steps",
        "accuracy over all sets",
        "Accuracy along training (band: min-max over seeds)",
    )
    return result, {"speed": figures.over_seeds(list(at), curves, labels, chance=False)}
