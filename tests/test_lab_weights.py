"""lab.run.write_weights: models written by save_model, so load_model rebuilds them."""

from __future__ import annotations

import torch

from deepsets import DeepSet, load_model, make_mlp
from deepsets.lab.run import slug, write_weights


def test_every_model_is_written_by_save_model_and_loads_with_the_same_outputs(tmp_path):
    models = {"ds": DeepSet(generator=0), "mlp": make_mlp(10, generator=1)}
    write_weights(tmp_path, models)
    assert {p.name for p in (tmp_path / "weights").iterdir()} == {
        "ds.safetensors",
        "mlp.safetensors",
    }
    X = torch.rand(4, 10, 1, generator=torch.Generator().manual_seed(0))  # (B, N, 1)
    with torch.no_grad():
        for name, model in models.items():
            again = load_model(tmp_path / "weights" / f"{name}.safetensors")
            torch.testing.assert_close(again(X), model.eval()(X), rtol=0, atol=0)


def test_slug_makes_file_names_of_labels():
    assert slug("wider latent (L = 8)") == "wider-latent-l-8"
    assert slug("max (the exercise's DeepSet)") == "max-the-exercise-s-deepset"
