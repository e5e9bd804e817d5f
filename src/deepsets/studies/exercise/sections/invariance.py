"""Step 6 of the exercise: the first seed's DeepSet and MLP under random permutations.

Shape letters: B sets, N objects, P permutations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from deepsets.invariance import check_invariance
from deepsets.studies.exercise.plan import (
    PERMUTED_SETS,
    Runs,
    Variant,
    exercise_deepset,
    exercise_mlp,
)
from deepsets.studies.exercise.scores import TestSet
from deepsets.studies.exercise.settings import StudySettings


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


def measure(trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet) -> InvarianceResult:
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
