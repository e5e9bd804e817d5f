"""Beyond the exercise: the width L of phi's output (the latent space), L = 1, 2, 4, 8."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deepsets.lab.figures import seeds_by_variant
from deepsets.plots import Figure
from deepsets.studies.exercise.plan import LATENTS, Runs, Variant
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings


@dataclass(frozen=True)
class LatentWidth:
    latent: int
    score: Score


@dataclass(frozen=True)
class LatentResult:
    widths: tuple[LatentWidth, ...]
    """One entry per L in LATENTS, in order."""

    def mean_final_loss(self) -> dict[int, float]:
        return {w.latent: w.score.final_loss.mean for w in self.widths}

    def mean_accuracy(self) -> dict[int, float]:
        return {w.latent: w.score.accuracy.mean for w in self.widths}


def measure(
    trained: Mapping[Variant, Runs], variants: tuple[Variant, ...], s: StudySettings, test: TestSet
) -> tuple[LatentResult, dict[str, Figure]]:
    widths = tuple(
        LatentWidth(L, score(trained[v], test, s.final_window))
        for L, v in zip(LATENTS, variants, strict=True)
    )
    fig = seeds_by_variant(
        {f"L = {w.latent}": w.score.final_loss.values for w in widths},
        "final training loss (BCE)",
        "Latent width of phi",
        log=True,
    )
    return LatentResult(widths), {"latent": fig}
