"""The study's Plan: variants declared once, shared when identical, refused when a name clashes;
models seeded by their constructors; one trained Runs per variant."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets.models import DeepSet, make_mlp
from deepsets.studies.exercise.plan import (
    Plan,
    deepset_variant,
    exercise_deepset,
    exercise_mlp,
    mlp_variant,
    sweep_variants,
)
from deepsets.studies.exercise.settings import StudySettings

CPU = torch.device("cpu")


def test_an_identical_variant_declared_twice_is_shared():
    plan = Plan([0, 1], CPU)
    s = StudySettings()
    a = plan.declare(exercise_deepset(s))
    b = plan.declare(deepset_variant(s.hidden, pooling="sum", latent=1))  # the same, spelled out
    assert a == b and len(plan.variants) == 1 and plan.n_models == 2


def test_a_name_declared_with_another_spec_is_an_error():
    plan = Plan([0], CPU)
    plan.declare(mlp_variant((20, 20), "relu", name="mlp"))
    with pytest.raises(ValueError, match="'mlp' is already declared with another spec"):
        plan.declare(mlp_variant((20,), "relu", name="mlp"))


def test_variant_names_say_how_they_differ_from_the_exercise():
    names = [
        deepset_variant(5).name,
        deepset_variant(5, activation=None, pooling="max").name,
        deepset_variant(5, latent=4).name,
        deepset_variant(5, set_sizes=(5, 20)).name,
        exercise_mlp(StudySettings()).name,
    ]
    assert names == ["deepset", "deepset-linear-max", "deepset-L4", "deepset-mixed", "mlp"]
    sweep = [v.name for v in sweep_variants(StudySettings(sweep_widths=(4, 8), sweep_depths=(2,)))]
    assert sweep == ["mlp-4x4-relu", "mlp-8x8-relu", "mlp-4x4-tanh", "mlp-8x8-tanh"]


def test_a_variant_builds_the_seeded_model_its_constructor_would():
    v = deepset_variant(5, pooling="mean", latent=2)
    expected = DeepSet(5, pooling="mean", latent=2, generator=7)
    got = v.build(7, CPU)
    for p, q in zip(got.parameters(), expected.parameters(), strict=True):
        assert torch.equal(p, q)
    other = v.build(8, CPU)
    assert not torch.equal(next(other.parameters()), next(got.parameters()))
    mlp = mlp_variant((4,), "tanh").build(3, CPU)
    assert torch.equal(mlp[1].weight, make_mlp((4,), "tanh", generator=3)[1].weight)


def test_plan_trains_every_variant_once_per_seed():
    plan = Plan([0, 1], CPU)
    s = StudySettings(steps=5)
    fixed = plan.declare(deepset_variant(3))
    mixed = plan.declare(deepset_variant(3, set_sizes=(5, 20)))
    mlp = plan.declare(mlp_variant((4,), "relu"))
    trained = plan.train(s, progress=False)
    assert set(trained) == {fixed, mixed, mlp}
    for v in (fixed, mixed, mlp):
        runs = trained[v]
        assert runs.seeds == (0, 1) and len(runs.models) == 2 and runs.losses.shape == (2, 5)
        assert runs.final_loss(2) == pytest.approx(runs.losses[:, -2:].mean(axis=1))
    # the two seeds start from different weights, so they train to different losses
    assert not np.array_equal(trained[fixed].losses[0], trained[fixed].losses[1])
