"""save_model / load_model: exact round trips, no silent overwrite, clear errors on bad files."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from deepsets import DeepSet, load_model, make_data, make_mlp, save_model

MODELS = {
    "deepset": lambda: DeepSet(),
    "deepset-linear": lambda: DeepSet(activation=None),
    "deepset-wide-relu": lambda: DeepSet(8, "relu", rho_hidden=3, rho_activation="gelu"),
    "deepset-no-rho-activation": lambda: DeepSet(4, "sigmoid", rho_activation=None),
    "deepset-two-features": lambda: DeepSet(3, in_features=2),
    "mlp": lambda: make_mlp(),
    "mlp-one-layer-tanh": lambda: make_mlp(5, "tanh"),
    "mlp-deep-linear": lambda: make_mlp((4, 4, 4), None, n_objects=6),
    "mlp-gelu": lambda: make_mlp((7, 3), "gelu"),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """A model with weights drawn from its own seed (torch's global state is left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return MODELS[name]()


def inputs_for(model: nn.Module) -> torch.Tensor:
    if isinstance(model, DeepSet) and model.config["in_features"] == 2:
        return torch.rand(16, 9, 2, generator=torch.Generator().manual_seed(0))
    n_objects = model[1].in_features if isinstance(model, nn.Sequential) else 10
    return make_data(16, n_objects=n_objects, generator=0)[0]


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_identical_outputs(name, tmp_path):
    model = build(name)
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    assert str(loaded) == str(model)  # the same layers, in the same order
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    X = inputs_for(model)
    with torch.no_grad():
        assert torch.equal(loaded(X), model.eval()(X))


def test_loaded_weights_are_the_saved_ones_not_a_fresh_init(tmp_path):
    path = save_model(build("deepset", seed=1), tmp_path / "m.safetensors")
    fresh = build("deepset", seed=2)
    loaded = load_model(path)
    assert not torch.equal(loaded.phi[0].weight, fresh.phi[0].weight)
    assert torch.equal(loaded.phi[0].weight, build("deepset", seed=1).phi[0].weight)


def test_an_existing_file_is_not_overwritten(tmp_path):
    path = save_model(build("deepset", seed=1), tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(build("deepset", seed=2), path)
    assert path.read_bytes() == before
    save_model(build("deepset", seed=2), path, overwrite=True)
    assert torch.equal(load_model(path).phi[0].weight, build("deepset", seed=2).phi[0].weight)


def test_only_deepsets_and_mlps_can_be_saved(tmp_path):
    with pytest.raises(TypeError, match="DeepSet or a make_mlp network, got Linear"):
        save_model(nn.Linear(3, 1), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("keep", [0.5, 0.9, 8 / 9999])
def test_a_truncated_file_is_a_clear_value_error(tmp_path, keep):
    path = save_model(build("mlp"), tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_model(path)


@pytest.mark.parametrize(
    "content", [b"", b"not a model at all", b"\x00" * 64, json.dumps({"a": 1}).encode()]
)
def test_a_foreign_file_is_a_clear_value_error(tmp_path, content):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_model(path)


def test_a_safetensors_file_not_written_by_deepsets_is_a_clear_value_error(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path), metadata={"author": "someone else"})
    with pytest.raises(ValueError, match="not written by deepsets.save_model"):
        load_model(path)


def test_weights_that_do_not_fit_the_stored_architecture_are_a_clear_value_error(tmp_path):
    path = tmp_path / "mixed.safetensors"
    tensors = {k: v.contiguous() for k, v in build("mlp").state_dict().items()}
    save_file(tensors, str(path), metadata={"deepsets": json.dumps({"kind": "DeepSet"})})
    with pytest.raises(ValueError, match="do not fit the stored architecture"):
        load_model(path)


def test_an_unknown_model_kind_is_a_clear_value_error(tmp_path):
    path = tmp_path / "future.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"deepsets": '{"kind": "Transformer"}'})
    with pytest.raises(ValueError, match="unknown model kind 'Transformer'"):
        load_model(path)
