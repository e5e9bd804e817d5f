"""Every section's numbers, measured from the trained models: what the findings are chosen from."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from deepsets.plots import Figure
from deepsets.studies.exercise.plan import (
    Plan,
    Runs,
    Variant,
    exercise_deepset,
    exercise_mlp,
    sweep_variants,
)
from deepsets.studies.exercise.scores import TestSet
from deepsets.studies.exercise.sections import (
    beyond,
    invariance,
    learning_speed,
    linear_phi,
    sample_efficiency,
    sweep,
    training,
)
from deepsets.studies.exercise.settings import StudySettings
from deepsets.training import show_progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sections:
    """Every section's numbers."""

    training: training.TrainingResult
    invariance: invariance.InvarianceResult
    mlp_sweep: sweep.SweepResult
    linear_phi: linear_phi.LinearPhiResult
    sample_efficiency: sample_efficiency.SampleEfficiencyResult
    learning_speed: learning_speed.LearningSpeedResult
    extras: beyond.ExtrasResult | None
    """None when the study ran with extras=False."""


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet, plan: Plan
) -> tuple[Sections, dict[str, Figure], float]:
    """Every section's results, the figures by file name, and the seconds the two sections on
    what the symmetry buys took (they train their own models). The sweep trains the sizes its
    brackets lack on `plan`'s seeds and device."""

    def train_more(variants: list[Variant]) -> Mapping[Variant, Runs]:
        more = Plan(plan.seeds, plan.device)
        for variant in variants:
            more.declare(variant)
        log.info("7a: training %d more MLPs between the sweep's sizes", len(variants))
        return more.train(s, show_progress(None))

    training_result, figs = training.measure(trained, s, test)
    deepset = training_result.deepset
    sweep_result, more = sweep.measure(
        trained, sweep_variants(s), s, test, deepset, train_more, trained[exercise_mlp(s)]
    )
    figs |= more
    linear_result, more = linear_phi.measure(trained, s, test)
    figs |= more
    t0 = time.perf_counter()
    seeds = trained[exercise_deepset(s)].seeds
    efficiency, more = sample_efficiency.measure(s, seeds, sweep_result, test)
    figs |= more
    speed, more = learning_speed.measure(trained, s, test)
    figs |= more
    symmetry_seconds = time.perf_counter() - t0
    extras_result = None
    if s.extras:
        extras_result, more = beyond.measure(trained, s, test)
        figs |= more
    sections = Sections(
        training=training_result,
        invariance=invariance.measure(trained, s, test),
        mlp_sweep=sweep_result,
        linear_phi=linear_result,
        sample_efficiency=efficiency,
        learning_speed=speed,
        extras=extras_result,
    )
    return sections, figs, symmetry_seconds
