"""The study's findings, each a Verdict chosen from the results by a function in verdicts.py.

The report, the console and metrics.json all read these fields; none restates a finding itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepsets.lab.verdict import Verdict
from deepsets.studies.exercise import extra_verdicts, verdicts
from deepsets.studies.exercise.measured import Sections
from deepsets.studies.exercise.sections.beyond import MLP_TRIED, ExtrasResult
from deepsets.studies.exercise.sections.learning_speed import LearningSpeedResult
from deepsets.studies.exercise.sections.sample_efficiency import SampleEfficiencyResult


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
        latent=extra_verdicts.latent_verdict(e.latent.mean_final_loss(), e.latent.mean_accuracy()),
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
