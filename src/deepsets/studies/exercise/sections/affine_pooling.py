"""Beyond the exercise: which pooling still solves the task when phi is affine, phi(x) = a x + b."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from deepsets.lab.figures import seeds_by_variant
from deepsets.plots import Figure
from deepsets.studies.exercise.plan import Poolings, Runs, Variant
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings


@dataclass(frozen=True)
class AffinePooling:
    """One pooling of an affine phi: scores over seeds and each seed's learned slope a."""

    score: Score
    slope: tuple[float, ...]
    """(S,) a = phi(1) - phi(0) of each seed's phi."""


@dataclass(frozen=True)
class AffinePoolingResult:
    sum_pooling: AffinePooling
    mean_pooling: AffinePooling
    max_pooling: AffinePooling


@torch.no_grad()
def affine_pooling(runs: Runs, s: StudySettings, test: TestSet) -> AffinePooling:
    ends = torch.tensor([[0.0], [1.0]], device=test[0].device)  # (2, 1): x = 0 and x = 1
    slopes = tuple(float(m.phi(ends).diff(dim=0)[0, 0]) for m in runs.deepsets())
    return AffinePooling(score(runs, test, s.final_window), slopes)


def measure(
    trained: Mapping[Variant, Runs], v: Poolings, s: StudySettings, test: TestSet
) -> tuple[AffinePoolingResult, dict[str, Figure]]:
    result = AffinePoolingResult(
        sum_pooling=affine_pooling(trained[v.sum_pooling], s, test),
        mean_pooling=affine_pooling(trained[v.mean_pooling], s, test),
        max_pooling=affine_pooling(trained[v.max_pooling], s, test),
    )
    fig = seeds_by_variant(
        {
            "sum pooling": result.sum_pooling.score.accuracy.values,
            "mean pooling": result.mean_pooling.score.accuracy.values,
            "max pooling": result.max_pooling.score.accuracy.values,
        },
        "accuracy over all sets",
        "Affine phi: which pooling can still tell the classes apart?",
    )
    return result, {"linear_pooling": fig}
