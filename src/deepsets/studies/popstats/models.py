"""The study's two methods: the paper's DeepSet (`deepsets.models.popstats`) and the kernel
baseline SDM (`deepsets.models.sdm`), built for one run's training sets; and the DeepSet
rebuilt from its saved weights.

`deepsets.load_model` does not rebuild a `PopStatsDeepSet` yet, so its weights are written as
lab.weights' marked state dict with the sample dimension D in the metadata; `load_deepset`
rebuilds the model from such a file (its whitening and target scale are buffers, in the file).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from deepsets.lab.weights import RAW
from deepsets.models.popstats import PopStatsDeepSet, popstats_deepset, whitening
from deepsets.models.sdm import SDM
from deepsets.tasks.popstats import PopulationSets

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
