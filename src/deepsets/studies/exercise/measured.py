"""Every section's numbers in one frozen dataclass: what the findings are chosen from."""

from __future__ import annotations

from dataclasses import dataclass

from deepsets.studies.exercise.extras import ExtrasResult
from deepsets.studies.exercise.sections.invariance import InvarianceResult
from deepsets.studies.exercise.sections.learning_speed import LearningSpeedResult
from deepsets.studies.exercise.sections.linear_phi import LinearPhiResult
from deepsets.studies.exercise.sections.sample_efficiency import SampleEfficiencyResult
from deepsets.studies.exercise.sections.sweep import SweepResult
from deepsets.studies.exercise.sections.training import TrainingResult


@dataclass(frozen=True)
class Sections:
    """Every section's numbers."""

    training: TrainingResult
    invariance: InvarianceResult
    mlp_sweep: SweepResult
    linear_phi: LinearPhiResult
    sample_efficiency: SampleEfficiencyResult
    learning_speed: LearningSpeedResult
    extras: ExtrasResult | None
    """None when the study ran with extras=False."""
