"""lab.weights: a model save_model describes is written by it (load_model rebuilds it); any
other model's state dict is written with its class and the study's metadata."""

from __future__ import annotations

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from deepsets import DeepSet, load_model
from deepsets.lab.weights import RAW, saveable, slug, write_weights


class Twice(nn.Module):
    """One tensor under two names, as the digit DeepSet's encoder is (encoder and phi.0)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(2, 3)
        self.b = nn.Sequential(self.a)


def test_a_deepset_is_written_by_save_model_and_anything_else_as_its_state_dict(tmp_path):
    ds, other = DeepSet(generator=0), Twice()
    assert saveable(ds) and not saveable(other)
    write_weights(tmp_path, {"ds": ds, "twice": other}, {"twice": {"task": "text"}})
    X = torch.rand(4, 10, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(load_model(tmp_path / "weights" / "ds.safetensors")(X), ds(X))
    path = tmp_path / "weights" / "twice.safetensors"
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"format": RAW, "class": "Twice", "task": "text"}
    state = load_file(path)
    assert state.keys() == other.state_dict().keys()
    torch.testing.assert_close(state["b.0.weight"], other.a.weight.detach())


def test_slug_makes_file_names_of_labels():
    assert slug("wider latent (L = 8)") == "wider-latent-l-8"
    assert slug("max (the exercise's DeepSet)") == "max-the-exercise-s-deepset"
