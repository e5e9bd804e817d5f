"""What `run_study` returns: every section's typed results, the run's facts and its findings,
each finding a Verdict chosen from the numbers by a function of verdicts.py or extra_verdicts.py
(the report, the console and metrics.json read them; none restates a finding itself).

`StudyResults.to_json()` is metrics.json, an interface documented in docs/studies/exercise.md
(change both together).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from deepsets.cluster import ClusterInfo
from deepsets.lab.verdict import Verdict, jsonable, judged
from deepsets.studies.exercise import extra_verdicts, verdicts
from deepsets.studies.exercise.sections import beyond, linear_phi, steps, sweep, symmetry
from deepsets.studies.exercise.sections.beyond import MLP_TRIED, ExtrasResult
from deepsets.studies.exercise.sections.symmetry import LearningSpeedResult, SampleEfficiencyResult
from deepsets.studies.exercise.settings import StudySettings

SCHEMA_VERSION = 5  # of metrics.json; 4: one 7a criterion, 3: findings as sentences, 2: held-out


@dataclass(frozen=True)
class Sections:
    """Every section's numbers."""

    training: steps.TrainingResult
    invariance: steps.InvarianceResult
    mlp_sweep: sweep.SweepResult
    linear_phi: linear_phi.LinearPhiResult
    sample_efficiency: symmetry.SampleEfficiencyResult
    learning_speed: symmetry.LearningSpeedResult
    extras: beyond.ExtrasResult | None
    """None when the study ran with extras=False."""


@dataclass(frozen=True)
class ExtraFindings:
    """The findings of the sections beyond the exercise, one sentence each."""

    set_size: Verdict
    phi0: Verdict
    max_pooling: Verdict
    mlp_set_size: Verdict
    affine_chance: Verdict
    affine_max: Verdict
    learned_phi_max: Verdict
    latent: Verdict


@dataclass(frozen=True)
class Findings:
    """What the run found: step 6, the answers to 7a and 7b, and the extras' findings."""

    invariance: Verdict
    mlp_sweep: Verdict
    linear_phi: Verdict
    sample_efficiency: Verdict
    learning_speed: Verdict
    headline: Verdict
    """What the symmetry buys on this task, in examples and in steps."""
    extras: ExtraFindings | None


def extra_findings(e: ExtrasResult) -> ExtraFindings:
    """The extras' findings, from their numbers."""
    sz, ap, phi = e.set_size, e.affine_pooling, e.learned_phi
    trained_at = sz.test_sizes.index(sz.trained_on)
    blind = phi.max_pooling.max_is_phi0
    return ExtraFindings(
        set_size=extra_verdicts.set_size_verdict(
            {m.label: m.mean for m in sz.models}, sz.test_sizes
        ),
        phi0=extra_verdicts.phi0_verdict(sz.abs_phi0.mean, sz.abs_phi0_mixed.mean, sz.mixed_sizes),
        max_pooling=extra_verdicts.max_pooling_note(
            sz.max_pooling.mean[trained_at], sz.trained_on, sum(blind), len(blind)
        ),
        mlp_set_size=extra_verdicts.mlp_set_size_note(sz.mlp_error, sz.trained_on, MLP_TRIED),
        affine_chance=extra_verdicts.chance_verdict(
            {
                "sum pooling": ap.sum_pooling.score.accuracy.max,
                "mean pooling": ap.mean_pooling.score.accuracy.max,
            }
        ),
        affine_max=extra_verdicts.affine_max_verdict(
            ap.max_pooling.score.accuracy.values, ap.max_pooling.slope
        ),
        learned_phi_max=extra_verdicts.blind_max_verdict(blind),
        latent=extra_verdicts.latent_verdict(
            {w.latent: w.score.final_loss.mean for w in e.latent.widths},
            {w.latent: w.score.accuracy.mean for w in e.latent.widths},
        ),
    )


def symmetry_findings(
    se: SampleEfficiencyResult, sp: LearningSpeedResult
) -> dict[str, Verdict]:
    """The findings of the two sections on what the symmetry buys, and the headline."""
    worst = {m.label: [a.min for a in m.unseen_accuracy] for m in se.models}
    steps = (sp.deepset.steps_to_loss, sp.mlp.steps_to_loss)
    area = (sp.deepset.loss_area, sp.mlp.loss_area)
    return dict(
        sample_efficiency=verdicts.sample_efficiency_verdict(se.per_class, worst),
        learning_speed=verdicts.learning_speed_verdict(
            steps, area, sp.loss_threshold, sp.checkpoints[-1]
        ),
        headline=verdicts.symmetry_headline(
            se.per_class, worst, verdicts.compare_speed(steps, area)[2], sp.loss_threshold
        ),
    )


def findings(r: Sections) -> Findings:
    """Every finding of a study, from its sections' numbers."""
    sweep = r.mlp_sweep
    return Findings(
        invariance=verdicts.invariance_verdict(
            r.invariance.deepset.max_change, r.invariance.mlp.max_change
        ),
        mlp_sweep=verdicts.sweep_answer(
            sweep.loss.ends, sweep.accuracy.ends, r.training.deepset.params, sweep.largest_params
        ),
        linear_phi=verdicts.linear_phi_verdict(r.linear_phi.score.final_loss.mean),
        **symmetry_findings(r.sample_efficiency, r.learning_speed),
        extras=None if r.extras is None else extra_findings(r.extras),
    )


@dataclass(frozen=True)
class DataShown:
    shown_sets: int
    """Sets drawn in the data figure."""
    scored_sets: int
    """Sets every score is computed on: every distinct set (372), all of them seen in training."""


@dataclass(frozen=True)
class Timing:
    train_seconds: float
    """Training of every model."""
    symmetry_seconds: float
    """The sample-efficiency and learning-speed sections (their own training included)."""
    wall_seconds: float
    """The whole study up to writing metrics.json."""


@dataclass(frozen=True)
class RunInfo:
    """How the study ran: settings, seeds, machine, library versions, time."""

    settings: StudySettings
    seeds: tuple[int, ...]
    device: str
    threads: int
    workers: int
    environment: dict[str, str]
    models_trained: int
    data: DataShown
    timing: Timing
    cluster: ClusterInfo | None = None
    """The Dask cluster the models trained on (`--scheduler`); None: in this process."""


@dataclass(frozen=True)
class StudyResults(Sections):
    """Where a study wrote, how it ran, every section's numbers and its findings."""

    out: Path
    run: RunInfo

    @property
    def settings(self) -> StudySettings:
        return self.run.settings

    @property
    def cluster(self) -> ClusterInfo | None:
        return self.run.cluster

    @classmethod
    def of(cls, sections: Sections, out: Path, run: RunInfo) -> StudyResults:
        return cls(
            **{f.name: getattr(sections, f.name) for f in fields(Sections)}, out=out, run=run
        )

    @cached_property
    def findings(self) -> Findings:
        """The sentences the report and the console print, chosen from the numbers (not judged
        in a quick run)."""
        return judged(findings(self), self.run.settings.quick)

    def to_json(self) -> dict[str, Any]:
        """The content of metrics.json, as JSON types (tuples become lists)."""
        run = asdict(self.run)
        timing, cluster = run.pop("timing"), run.pop("cluster")
        sections = {f.name: getattr(self, f.name) for f in fields(Sections)}
        metrics = {
            "schema_version": SCHEMA_VERSION,
            **run,
            **{name: None if v is None else asdict(v) for name, v in sections.items()},
            "params": {"deepset": self.training.deepset.params, "mlp": self.training.mlp.params},
            "findings": jsonable(self.findings),
            "timing": timing,
            "cluster": cluster,
        }
        as_json: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
        return as_json

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """metrics.json as a dict (computed once)."""
        return self.to_json()
