"""The study's two methods: the paper's DeepSet and the kernel baseline SDM (`sdm.py`), built
for one run's training sets. The study writes the trained DeepSets through `lab.run.write_run`
(`deepsets.load_model` rebuilds them, whitening and target scale included: they are buffers, in
the file).

The DeepSet is the one of the paper's population-statistics experiment (its code,
`PopStats/model.py`).

phi: D -> 50 -> 100 -> 50 and rho: 50 -> 30 -> 30 -> 10 -> 1, fully connected with ELU between
the layers (none after phi's last layer or rho's). The code sums phi over a set; here the
samples are averaged (mean pooling): with a fixed number M of samples per set that is the sum
divided by M, so the two represent the same functions, while the mean keeps rho's inputs of
order one for any M (and for sets of varying size, with a mask, it does not tell rho M).

The model carries its data scales as buffers, so that it takes raw samples and returns the raw
statistic: x_i W goes into phi (W a fixed whitening matrix, e.g. `whitening` of the training
samples), and rho's output r becomes y_loc + y_scale * r. The code fed raw samples and raw
labels.

Shape letters: B sets, M samples per set, D features per sample, L = 50 latent features.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepsets.checks import positive_float, positive_int
from deepsets.models.pooling import check_mask, pool
from deepsets.models.seeding import seeded_init
from deepsets.studies.popstats.sdm import SDM
from deepsets.studies.popstats.tasks import PopulationSets
from deepsets.weights import register

PHI = (50, 100, 50)  # phi's widths after the input (the code's feature_extractor)
RHO = (30, 30, 10, 1)  # rho's widths after the latent (the code's regressor)
NAMES = {"deepset": "DeepSet", "sdm": "SDM (kernel)"}  # how the report names each method


def elu_layers(sizes: list[int]) -> nn.Sequential:
    """Linear layers through `sizes` with an ELU after every one but the last (their weights
    from torch's generator: build inside `seeded_init`)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class PopStatsDeepSet(nn.Module):
    """rho(mean_i phi(x_i W)) * y_scale + y_loc, the paper's layers (module docstring).

    Arguments:
        in_features: D, the dimension of a sample.
        generator: a torch.Generator or integer seed for the initial weights.
        whiten: W (D, D), applied to every sample before phi (e.g. `whitening(X)` of the
            training sets); default the identity.
        y_loc, y_scale: the output is y_loc + y_scale * rho(...) (e.g. the training targets'
            mean and standard deviation); default 0 and 1.
    """

    whiten: torch.Tensor  # (D, D), a buffer
    y_loc: torch.Tensor  # (), a buffer
    y_scale: torch.Tensor  # (), a buffer

    def __init__(
        self,
        in_features: int,
        *,
        generator: torch.Generator | int | None = None,
        whiten: torch.Tensor | None = None,
        y_loc: float = 0.0,
        y_scale: float = 1.0,
    ) -> None:
        super().__init__()
        D = positive_int(in_features, "in_features")
        with seeded_init(generator):  # phi's layers, then rho's: one stream of draws
            self.phi = elu_layers([D, *PHI])
            self.rho = elu_layers([PHI[-1], *RHO])
        W = torch.eye(D) if whiten is None else whiten  # the identity: finite (also on meta)
        if whiten is not None and not (
            isinstance(W, torch.Tensor) and W.shape == (D, D) and bool(W.isfinite().all())
        ):
            got = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
            raise ValueError(f"whiten must be a finite ({D}, {D}) tensor, got {got}")
        if not isinstance(y_loc, int | float) or not math.isfinite(y_loc):
            raise ValueError(f"y_loc must be a finite number, got {y_loc!r}")
        self.register_buffer("whiten", W.to(torch.float32).clone())  # (D, D)
        self.register_buffer("y_loc", torch.tensor(float(y_loc)))
        self.register_buffer("y_scale", torch.tensor(positive_float(y_scale, "y_scale")))
        # what `deepsets.weights` rebuilds it from: whiten, y_loc and y_scale are buffers, which
        # the weights file holds and `load_model` loads over the defaults
        object.__setattr__(self, "arguments", {"in_features": D})

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The statistic of each set: X (B, M, D), mask (B, M) or None -> (B, 1)."""
        D = self.whiten.shape[0]
        if not isinstance(X, torch.Tensor) or X.dim() != 3 or X.shape[-1] != D:
            got = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
            raise ValueError(f"X must be a tensor of shape (B, M, {D}), got {got}")
        mask = check_mask(mask, X)
        h = self.phi(X @ self.whiten)  # (B, M, L)
        z = pool(h, mask, "mean")  # (B, L)
        r: torch.Tensor = self.rho(z)  # (B, 1)
        return self.y_loc + self.y_scale * r


def whitening(X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """W (D, D) with W^T C W = I for the pooled second moment C of the real samples of the sets
    X (B, M, D) (zero-mean samples: the covariance): C^(-1/2), symmetric, in float64."""
    if not isinstance(X, torch.Tensor) or X.dim() != 3:
        raise ValueError("X must be a tensor of sets (B, M, D)")
    x = (X if mask is None else X[mask]).reshape(-1, X.shape[-1]).to(torch.float64)  # (n, D)
    C = x.T @ x / x.shape[0]  # (D, D)
    e, Q = torch.linalg.eigh(C)
    if not bool((e > 0).all()):
        raise ValueError("the samples' second moment is singular: too few samples to whiten")
    W: torch.Tensor = (Q / e.sqrt()) @ Q.T  # (D, D)
    return W


def build_deepset(train: PopulationSets, seed: int) -> PopStatsDeepSet:
    """An untrained DeepSet for the training sets `train`: inputs whitened with their samples'
    covariance, outputs scaled to their targets' mean and spread, weights drawn from `seed`."""
    return PopStatsDeepSet(
        train.X.shape[-1],
        generator=seed,
        whiten=whitening(train.X, train.mask).float(),
        y_loc=float(train.y.mean()),
        y_scale=float(train.y.std()),
    )


def fit_sdm(train: PopulationSets, features: int, seed: int) -> tuple[SDM, torch.Tensor]:
    """SDM fitted to the training sets on the same whitened inputs as the DeepSet's, and the
    whitening W (D, D) that its test inputs need too."""
    W = whitening(train.X, train.mask).float()  # (D, D)
    return SDM(features, seed=seed).fit(train.X @ W, train.y, train.mask), W


register(PopStatsDeepSet)  # deepsets.load_model rebuilds it
