"""Bad input on the public API gets a clear error naming what was expected, not a torch trace."""

from __future__ import annotations

import pytest
import torch

import deepsets as ds
from deepsets.engine.train import train_many


def test_an_mlp_trained_on_another_set_size_is_told_why():
    with pytest.raises(ValueError, match=r"set size it was built for \(n_objects\)"):
        ds.train(ds.make_mlp(n_objects=10), 5, n_objects=12)
    with pytest.raises(ValueError, match=r"n_objects"):
        train_many([ds.make_mlp(n_objects=10)], 5, seeds=[0], n_objects=12)


def test_invariance_check_names_a_model_that_cannot_take_the_sets():
    X, _ = ds.make_data(4, n_objects=12, generator=0)
    with pytest.raises(ValueError, match=r"could not take sets of shape \(4, 12, 1\)"):
        ds.check_invariance({"MLP": ds.make_mlp(n_objects=10)}, X)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        ds.check_invariance({"f": lambda x: x}, X)


def test_deepset_rejects_input_of_another_float_dtype():
    X, _ = ds.make_data(4, generator=0)
    with pytest.raises(
        TypeError, match=r"X of dtype torch.float32 like its weights, got torch.float64"
    ):
        ds.DeepSet()(X.double())
    assert ds.DeepSet().double()(X.double()).dtype == torch.float64


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_layer_sizes_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        ds.make_mlp(in_features=bad)
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        ds.PermEquivariant(bad, 2)
    with pytest.raises(ValueError, match="out_features must be a positive integer"):
        ds.PermEquivariant(2, bad)


def test_save_model_into_a_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ds.save_model(ds.DeepSet(), tmp_path / "nowhere" / "m.safetensors")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("first", [10, 1], ids=["fails inside", "maps each object"])
def test_an_mlp_without_flatten_is_told_to_put_flatten_first(first):
    nn = torch.nn
    mlp = nn.Sequential(nn.Linear(first, 20), nn.ReLU(), nn.Linear(20, 1), nn.Sigmoid())
    with pytest.raises(ValueError, match=r"put nn.Flatten\(\) first"):
        ds.train(mlp, 5, seed=0)
    with pytest.raises(ValueError, match=r"set size it was built for") as e:
        ds.train(ds.make_mlp(n_objects=5), 5, seed=0)
    assert "Flatten" not in str(e.value)
