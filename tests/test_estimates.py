"""The checks' counts, made without building a model (`DeepSet.n_params`, the exercise study's
variant sizes and memory estimates), against the models built."""

from __future__ import annotations

import pytest
import torch

from deepsets.models.deepset import DeepSet, Rho
from deepsets.studies.exercise.plan import Plan, checkpoints, declare, mlp_variant, variant_size
from deepsets.studies.exercise.settings import StudySettings, quick_settings
from deepsets.training import count_params


@pytest.mark.parametrize(
    "config",
    [
        dict(in_features=1, hidden=5, latent=1, rho_hidden=5),  # the exercise's: 62
        dict(in_features=3, hidden=16, latent=8, rho_hidden=64),
        dict(in_features=7, hidden=1, latent=32, rho_hidden=2),
        dict(in_features=2, hidden=40, latent=3, rho_hidden=1),
    ],
)
def test_n_params_counts_the_built_deepset(config):
    widths = {k: v for k, v in config.items() if k != "rho_hidden"}
    built = DeepSet(**widths, rho=Rho(hidden=config["rho_hidden"]), generator=0)
    assert DeepSet.n_params(config) == count_params(built)


SETTINGS = [
    StudySettings(),
    quick_settings(),
    StudySettings(hidden=3, mlp_hidden=(7, 1, 9), sweep_widths=(2, 5), sweep_depths=(1, 4)),
    quick_settings(extras=False, sweep_activations=("tanh", "gelu")),
]


@pytest.mark.parametrize("s", SETTINGS, ids=range(len(SETTINGS)))
def test_every_declared_variant_is_counted_as_its_built_model(s):
    """The check's count of each variant (without building it) is count_params of the model."""
    specs = Plan()
    declare(specs, s)
    assert specs.variants
    for v in specs.variants.values():
        assert variant_size(v)[0] == count_params(v.build(0, torch.device("cpu"))), v.name


@pytest.mark.parametrize("s", SETTINGS, ids=range(len(SETTINGS)))
def test_the_sweeps_early_estimate_counts_its_built_mlps(s):
    """sweep_needs' closed form (widths and depths only) against count_params of every sweep
    MLP built, in the order the sweep declares them."""
    from deepsets.lab.memory import models_need
    from deepsets.studies.exercise.plan import sweep_needs, sweep_variants

    built = [count_params(v.build(0, torch.device("cpu"))) for v in sweep_variants(s)]
    models, activations = sweep_needs(s)
    copies = s.seeds * len(checkpoints(s.steps))
    assert models.n_bytes == models_need("", copies, built, ()).n_bytes
    units = sum(sum(dict(v.options)["hidden"]) for v in sweep_variants(s))
    assert activations.n_bytes == s.seeds * s.batch_size * units * 3 * 4


def test_an_mlp_name_spells_every_width():
    assert mlp_variant((20, 7, 20), "relu").name == "mlp-20x7x20-relu"
    assert mlp_variant((4,) * 3, "tanh").name == "mlp-4x4x4-tanh"
    assert mlp_variant((4,), "tanh", name="mlp").name == "mlp"
