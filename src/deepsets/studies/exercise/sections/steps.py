"""Steps 1-6 of the exercise: the data, the DeepSet and the MLP trained over seeds and scored
(`measure_training`), then the first seed's of each under random permutations
(`measure_invariance`).

Shape letters: B sets, N objects, S seeds, T steps, P permutations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from deepsets.data import make_data
from deepsets.invariance import check_invariance
from deepsets.plots import Figure, plot_losses, plot_sets
from deepsets.studies.exercise.plan import (
    PERMUTED_SETS,
    Runs,
    Variant,
    exercise_deepset,
    exercise_mlp,
)
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings

SHOWN_SETS = 40  # sets drawn in the data figure (step 1)


@dataclass(frozen=True)
class TrainingResult:
    """Steps 2-5: each model's parameters, final loss and scores over all sets, over seeds."""

    deepset: Score
    mlp: Score


def measure_training(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[TrainingResult, dict[str, Figure]]:
    """Score both models; draw a batch of data and the loss curves."""
    deepset, mlp = trained[exercise_deepset(s)], trained[exercise_mlp(s)]
    result = TrainingResult(
        deepset=score(deepset, test, s.final_window), mlp=score(mlp, test, s.final_window)
    )
    X, y = make_data(SHOWN_SETS, generator=s.seed, device=test[0].device)  # (B, N, 1), (B, 1)
    hidden = tuple(s.mlp_hidden)
    losses = plot_losses(
        {
            f"DeepSet ({result.deepset.params} params)": deepset.losses,  # (S, T)
            f"MLP {hidden} {s.mlp_activation} ({result.mlp.params} params)": mlp.losses,
        }
    )
    return result, {"data": plot_sets(X, y), "losses": losses}


@dataclass(frozen=True)
class ModelInvariance:
    """One model's outputs under the permutations."""

    example_outputs: tuple[float, ...]
    """(1 + P,) outputs on the example set: in its original order, then under each permutation."""
    max_change_per_permutation: tuple[float, ...]
    """(P,) largest |output(permuted) - output(original)| over the sets, per permutation."""
    max_change: float
    """The largest change over all sets and permutations."""


@dataclass(frozen=True)
class InvarianceResult:
    """Step 6: the permutations drawn and what each model did under them."""

    sets: int
    permutations: tuple[tuple[int, ...], ...]
    """P permutations of range(N), from np.random.default_rng(seed).permutation."""
    example_set: tuple[float, ...]
    """(N,) the first permuted set's object values."""
    deepset: ModelInvariance
    mlp: ModelInvariance


def model_invariance(outputs: np.ndarray) -> ModelInvariance:
    """From (1 + P, B) outputs: row 0 on the original order, row j on permutation j."""
    change = np.abs(outputs[1:] - outputs[0])  # (P, B)
    return ModelInvariance(
        example_outputs=tuple(outputs[:, 0].tolist()),
        max_change_per_permutation=tuple(change.max(axis=1).tolist()),
        max_change=float(change.max()),
    )


def measure_invariance(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> InvarianceResult:
    """Permute the objects of the first test sets; run the first seed of each model."""
    X = test[0][:PERMUTED_SETS]  # (B, N, 1)
    deepset, mlp = trained[exercise_deepset(s)], trained[exercise_mlp(s)]
    models = {"DeepSet": deepset.models[0], "MLP": mlp.models[0]}
    check = check_invariance(models, X, s.permutations, rng=s.seed)
    return InvarianceResult(
        sets=int(X.shape[0]),
        permutations=tuple(tuple(p.tolist()) for p in check.permutations),
        example_set=tuple(X[0, :, 0].cpu().tolist()),
        deepset=model_invariance(check.outputs["DeepSet"]),
        mlp=model_invariance(check.outputs["MLP"]),
    )
