"""The study beyond the exercise: set sizes, pooling with an affine phi, learned phi, latent width.

Each question is answered by models trained in the same run as the exercise's (see run.py);
the sections live in `sections/`; this module declares and measures them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deepsets.plots import Figure
from deepsets.studies.exercise.design import ExtraVariants
from deepsets.studies.exercise.plan import Runs, Variant
from deepsets.studies.exercise.scores import TestSet
from deepsets.studies.exercise.sections import affine_pooling, latent, learned_phi, set_size
from deepsets.studies.exercise.settings import StudySettings


@dataclass(frozen=True)
class ExtrasResult:
    """The numbers of the sections beyond the exercise."""

    set_size: set_size.SetSizeResult
    affine_pooling: affine_pooling.AffinePoolingResult
    learned_phi: learned_phi.LearnedPhiResult
    latent: latent.LatentResult


def measure(
    trained: Mapping[Variant, Runs], v: ExtraVariants, s: StudySettings, test: TestSet
) -> tuple[ExtrasResult, dict[str, Figure]]:
    """All extra sections: their results and figures."""
    device = test[0].device
    sizes, figs = set_size.measure(trained, v.set_size, s, device)
    pooling, more = affine_pooling.measure(trained, v.affine_pooling, s, test)
    figs |= more
    phi, more = learned_phi.measure(trained, v.learned_phi, device)
    figs |= more
    widths, more = latent.measure(trained, v.latent, s, test)
    figs |= more
    return ExtrasResult(sizes, pooling, phi, widths), figs
