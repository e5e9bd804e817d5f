"""The study's two methods: the paper's DeepSet (`deepsets.models.popstats`) and the kernel
baseline SDM (`deepsets.models.sdm`), built for one run's training sets. The study writes the
trained DeepSets through `lab.weights` (`deepsets.load_model` rebuilds them, whitening and
target scale included: they are buffers, in the file).
"""

from __future__ import annotations

import torch

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
