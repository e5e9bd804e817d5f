"""The study's design, from its settings alone: the variants each section declares (and the
handles it keeps), the set sizes it trains and tests on, and when it takes snapshots.

Plain values, no torch: the check (`checks.py`) estimates the run's memory from them before any
work, and the sections (`sections/`) read the same ones when they measure.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepsets.studies.exercise.settings import StudySettings
from deepsets.studies.exercise.variants import (
    Declarations,
    Poolings,
    Variant,
    declare_poolings,
    deepset_variant,
    exercise_deepset,
    exercise_mlp,
    sweep_variants,
)

LATENTS = (1, 2, 4, 8)  # the latent widths L of sections/latent.py; L = 1 is the exercise's DeepSet
TEST_SIZES = (5, 10, 20, 50, 100)  # objects per test set in sections/set_size.py
MIXED = (5, 20)  # the set sizes of the DeepSet trained on mixed sizes (sections/set_size.py)
PERMUTED_SETS = 100  # test sets whose objects are permuted (sections/invariance.py)
CHECKPOINTS = (16, 8, 4, 2)  # snapshots after steps // 16, // 8, // 4 and // 2 (learning_speed)


def checkpoints(steps: int) -> tuple[int, ...]:
    """The steps at which accuracy is measured: steps // c for c in CHECKPOINTS, then steps."""
    return tuple(sorted({max(1, steps // c) for c in CHECKPOINTS} | {steps}))


@dataclass(frozen=True)
class TrainingVariants:
    """Steps 2-5 (sections/training.py): the exercise's DeepSet and MLP."""

    deepset: Variant
    mlp: Variant


@dataclass(frozen=True)
class LinearPhiVariants:
    """Question 7b (sections/linear_phi.py): the DeepSet with its tanh phi and with an affine
    one."""

    tanh: Variant
    affine: Variant


@dataclass(frozen=True)
class SetSizeVariants:
    """Set sizes (sections/set_size.py): the three poolings, sum pooling trained on MIXED
    sizes, and the exercise's MLP."""

    poolings: Poolings
    sum_pooling_mixed: Variant
    mlp: Variant


@dataclass(frozen=True)
class ExtraVariants:
    """The sections beyond the exercise (extras.py)."""

    set_size: SetSizeVariants
    affine_pooling: Poolings
    learned_phi: Poolings
    latent: tuple[Variant, ...]


@dataclass(frozen=True)
class Declared:
    """The handles of every section's variants."""

    training: TrainingVariants
    linear_phi: LinearPhiVariants
    sweep: tuple[Variant, ...]
    extras: ExtraVariants | None

    @property
    def saved(self) -> tuple[Variant, ...]:
        """The variants whose weights are written: the exercise's two and 7b's."""
        return (self.training.deepset, self.training.mlp, self.linear_phi.affine)


def declare(plan: Declarations, s: StudySettings) -> Declared:
    """Every section's variants, in the order that fixes how the trainer stacks them."""
    training = TrainingVariants(plan.declare(exercise_deepset(s)), plan.declare(exercise_mlp(s)))
    tanh = plan.declare(exercise_deepset(s))
    linear_phi = LinearPhiVariants(tanh, plan.declare(deepset_variant(s.hidden, activation=None)))
    sweep = tuple(plan.declare(v) for v in sweep_variants(s))
    return Declared(training, linear_phi, sweep, declare_extras(plan, s) if s.extras else None)


def declare_extras(plan: Declarations, s: StudySettings) -> ExtraVariants:
    """The extra sections' variants (sharing the exercise's where they are equal): set sizes,
    pooling with an affine phi, the learned phi (the tanh DeepSet with each pooling: the
    set-size section's models, shared) and the latent widths."""
    poolings = declare_poolings(plan, s)
    mixed = plan.declare(deepset_variant(s.hidden, set_sizes=MIXED))
    set_size = SetSizeVariants(poolings, mixed, plan.declare(exercise_mlp(s)))
    return ExtraVariants(
        set_size=set_size,
        affine_pooling=declare_poolings(plan, s, activation=None),
        learned_phi=declare_poolings(plan, s),
        latent=tuple(plan.declare(deepset_variant(s.hidden, latent=L)) for L in LATENTS),
    )
