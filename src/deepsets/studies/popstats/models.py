"""The study's two methods: the paper's DeepSet (`deepsets.models.popstats`) and the kernel
baseline SDM (`deepsets.models.sdm`), built for one run's training sets; and the DeepSet
rebuilt from its saved weights.

`deepsets.save_model` does not describe a `PopStatsDeepSet` yet (its whitening is a tensor
argument), so `save_deepsets` writes each one's state dict, marked `RAW`, with the sample
dimension D in the metadata, and `load_deepset` rebuilds the model from such a file (its
whitening and target scale are buffers, in the file). Once the weights format describes the
model, this goes and the study writes through `lab.weights.write_weights`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as serialize

from deepsets.files import write_atomic
from deepsets.models.popstats import PopStatsDeepSet, popstats_deepset, whitening
from deepsets.models.sdm import SDM
from deepsets.tasks.popstats import PopulationSets

RAW = "raw-state-dict"  # the metadata `format` of a saved DeepSet of this study
NAMES = {"deepset": "DeepSet", "sdm": "SDM (kernel)"}  # how the report names each method


def build_deepset(train: PopulationSets, seed: int) -> PopStatsDeepSet:
    """An untrained DeepSet for the training sets `train`: inputs whitened with their samples'
    covariance, outputs scaled to their targets' mean and spread, weights drawn from `seed`."""
    return popstats_deepset(
        train.X.shape[-1],
        seed,
        whiten=whitening(train.X, train.mask).float(),
        y_loc=float(train.y.mean()),
        y_scale=float(train.y.std()),
    )


def fit_sdm(train: PopulationSets, features: int, seed: int) -> tuple[SDM, torch.Tensor]:
    """SDM fitted to the training sets on the same whitened inputs as the DeepSet's, and the
    whitening W (D, D) that its test inputs need too."""
    W = whitening(train.X, train.mask).float()  # (D, D)
    return SDM(features, seed=seed).fit(train.X @ W, train.y, train.mask), W


def deepset_meta(train: PopulationSets, task: str, N: int, seed: int) -> dict[str, str]:
    """What `load_deepset` needs beside a saved DeepSet's state dict, and what it was."""
    return {"in_features": str(train.X.shape[-1]), "task": task, "N": str(N), "seed": str(seed)}


def save_deepsets(root: Path, models: dict[str, tuple[PopStatsDeepSet, dict[str, str]]]) -> None:
    """root/weights/<name>.safetensors for every (model, metadata): its state dict, marked RAW."""
    (root / "weights").mkdir(exist_ok=True)
    for name, (model, meta) in models.items():
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        info = {"format": RAW, "class": type(model).__name__, **meta}
        write_atomic(
            root / "weights" / f"{name}.safetensors", serialize(state, info), overwrite=False
        )


def load_deepset(path: str | Path) -> PopStatsDeepSet:
    """A DeepSet of this study from weights/<name>.safetensors (lab.weights' raw format)."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    if meta.get("format") != RAW or meta.get("class") != PopStatsDeepSet.__name__:
        raise ValueError(f"{path} is not a population-statistics DeepSet of this study")
    model = PopStatsDeepSet(int(meta["in_features"]))
    model.load_state_dict(state)
    return model.eval()
