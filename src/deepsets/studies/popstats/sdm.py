"""Support Distribution Machines (Poczos et al. 2012), the paper's kernel baseline for
population statistics: kernel ridge regression on sets seen as empirical distributions.

The kernel between two sets P and Q is an RBF on the maximum mean discrepancy (MMD) between
them, k(P, Q) = exp(-MMD^2(P, Q) / (2 w^2)), with a Gaussian base kernel of bandwidth s on the
samples. The MMD is computed through random Fourier features (Rahimi & Recht 2007): each set
is the mean of z(x) = sqrt(2/F) cos(x Omega + c) over its samples (Omega ~ N(0, I / s^2),
c ~ U[0, 2 pi)), and MMD^2 is the squared distance between two such mean embeddings. Why not
the exact MMD: it costs O(M^2 D) per pair of sets, N^2 pairs, so at M = 512 samples and N in
the thousands it is 10^12 and more kernel evaluations; the embeddings cost O(N M D F) once,
then every pair is one dot product of F numbers. With F features the embedding's kernel
approximates the base kernel with an error of order 1 / sqrt(F) (`rff_mmd2` against
`exact_mmd2` in the tests).

The bandwidth s (a multiple of the median distance between samples), the width w (a multiple
of the median MMD between training sets) and the ridge are chosen on a grid by the mean squared
error on a held-out share of the training sets; then the model is refitted on all of them with
scikit-learn's KernelRidge on the precomputed kernel. Targets are centred on their training
mean (kernel ridge has no intercept). Deterministic given `seed`.

Shape letters: B sets, M samples per set, D features per sample, F random features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepsets.checks import as_generator, check_sets, positive_float, positive_int, seed_int

EMBED_VALUES = 2**24  # float64 values of z(x) held at once while embedding (128 MiB)


def float64_sets(X: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    """X (B, M, D) as float64 and a (B, M) mask (all True for None), checked (`check_sets`,
    float samples, no empty set); else a ValueError."""
    X = check_sets(X, mask=mask)
    if not X.is_floating_point():
        raise ValueError(f"X must be a float tensor of sets (B, M, D), got {X.dtype}")
    mask = torch.ones(X.shape[:2], dtype=torch.bool) if mask is None else mask
    assert isinstance(mask, torch.Tensor)  # checked
    if not bool(mask.any(dim=1).all()):
        raise ValueError("every set must hold at least one sample (an empty set has no mean)")
    return X.to(torch.float64), mask


@dataclass(frozen=True)
class Features:
    """Random Fourier features of a Gaussian kernel of bandwidth s: Omega (D, F), c (F,)."""

    omega: torch.Tensor
    c: torch.Tensor

    @staticmethod
    def draw(D: int, F: int, bandwidth: float, generator: torch.Generator) -> Features:
        omega = torch.randn(D, F, generator=generator, dtype=torch.float64) / bandwidth
        c = 2 * math.pi * torch.rand(F, generator=generator, dtype=torch.float64)
        return Features(omega, c)

    def embed(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean embeddings (B, F) of sets X (B, M, D) float64 over their real samples."""
        B, M, _ = X.shape
        F = self.c.shape[0]
        out = torch.empty(B, F, dtype=torch.float64)
        step = max(1, EMBED_VALUES // (M * F))
        for a in range(0, B, step):
            z = torch.cos(X[a : a + step] @ self.omega + self.c)  # (b, M, F)
            w = mask[a : a + step].to(torch.float64)  # (b, M)
            out[a : a + step] = (w.unsqueeze(1) @ z)[:, 0] / w.sum(1, keepdim=True)  # (b, F)
        return out * math.sqrt(2.0 / F)


def squared_distances(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 for rows of A (n, F) and B (m, F): (n, m), clipped at 0."""
    d = (A * A).sum(1, keepdim=True) + (B * B).sum(1) - 2 * A @ B.T  # (n, m)
    return d.clamp(min=0)


def rff_mmd2(
    X: torch.Tensor, Y: torch.Tensor, bandwidth: float, features: int, seed: int = 0
) -> float:
    """MMD^2 between the samples X (M, D) and Y (M', D) through `features` random Fourier
    features of the Gaussian kernel exp(-|x - y|^2 / (2 bandwidth^2))."""
    g = as_generator(seed_int(seed))
    f = Features.draw(X.shape[1], positive_int(features, "features"), bandwidth, g)
    a = f.embed(X.to(torch.float64).unsqueeze(0), torch.ones(1, X.shape[0], dtype=torch.bool))
    b = f.embed(Y.to(torch.float64).unsqueeze(0), torch.ones(1, Y.shape[0], dtype=torch.bool))
    return float(squared_distances(a, b)[0, 0])


def exact_mmd2(X: torch.Tensor, Y: torch.Tensor, bandwidth: float) -> float:
    """The (biased, V-statistic) MMD^2 between the empirical distributions of X (M, D) and
    Y (M', D) under the Gaussian kernel of `bandwidth`, from all M^2 + M'^2 + M M' pairs."""

    def k(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.exp(-squared_distances(a, b) / (2 * bandwidth**2)).mean())

    X, Y = X.to(torch.float64), Y.to(torch.float64)
    return k(X, X) + k(Y, Y) - 2 * k(X, Y)


@dataclass(frozen=True)
class Choice:
    """One point of the validation grid and its held-out mean squared error."""

    bandwidth: float
    """s, the base kernel's bandwidth on samples."""
    width: float
    """w, the RBF's width on the MMD."""
    ridge: float
    """KernelRidge's alpha."""
    mse: float
    """Mean squared error on the held-out training sets."""


BANDWIDTHS = (0.5, 1.0, 2.0)  # s, as multiples of the median distance between samples
WIDTHS = (0.5, 1.0, 2.0)  # w, as multiples of the median MMD between training sets
RIDGES = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # KernelRidge's alpha (the kernel's diagonal is 1)
MEDIAN_SAMPLES = 2048  # samples (drawn from the training sets) whose distances set s's scale


class SDM:
    """Kernel ridge regression on an RBF of the MMD between sets (module docstring).

    Arguments:
        features: F, random Fourier features of the base kernel.
        bandwidths, widths, ridges: the validation grid (bandwidths and widths as multiples
            of the median sample distance and of the median MMD).
        validation: the share of the training sets held out to choose from the grid.
        seed: seed of the random features, the held-out split and the median's samples.
    """

    def __init__(
        self,
        features: int = 512,
        *,
        bandwidths: tuple[float, ...] = BANDWIDTHS,
        widths: tuple[float, ...] = WIDTHS,
        ridges: tuple[float, ...] = RIDGES,
        validation: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.features = positive_int(features, "features")
        self.grids = tuple(
            tuple(positive_float(v, f"{name}[{i}]") for i, v in enumerate(values))
            for name, values in (("bandwidths", bandwidths), ("widths", widths), ("ridges", ridges))
        )
        if not all(self.grids):
            raise ValueError("bandwidths, widths and ridges must each hold at least one value")
        if not 0 < positive_float(validation, "validation") < 1:
            raise ValueError(f"validation must be a share in (0, 1), got {validation!r}")
        self.validation, self.seed = float(validation), seed_int(seed)
        self.grid: tuple[Choice, ...] = ()  # set by fit: every choice with its held-out mse

    def fit(self, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> SDM:
        """Choose (s, w, ridge) on a held-out share of the sets X (B, M, D) with targets y (B,)
        or (B, 1), then refit on all B of them. Returns self."""
        X, mask = float64_sets(X, mask)
        B = X.shape[0]
        t = check_targets(y, B)
        n_val = round(self.validation * B)
        if n_val < 1 or B - n_val < 2:
            raise ValueError(f"fit needs enough sets to hold out {self.validation:.0%}, got {B}")
        g = as_generator(self.seed)
        base = torch.randn(X.shape[2], self.features, generator=g, dtype=torch.float64)
        c = 2 * math.pi * torch.rand(self.features, generator=g, dtype=torch.float64)
        scale = median_distance(X, mask, g)
        order = torch.randperm(B, generator=g).numpy()
        val, tr = order[:n_val], order[n_val:]
        grid, best = [], None
        for s in self.grids[0]:
            f = Features(base / (s * scale), c)
            E = f.embed(X, mask)  # (B, F)
            D2 = squared_distances(E, E).numpy()  # (B, B)
            m2 = float(np.median(D2[np.ix_(tr, tr)][np.triu_indices(len(tr), 1)]))
            for w in self.grids[1]:
                K = np.exp(-D2 / (2 * w * w * max(m2, 1e-300)))  # (B, B)
                for r in self.grids[2]:
                    p = ridge_fit(K[np.ix_(tr, tr)], t[tr], r).predict(K[np.ix_(val, tr)])
                    grid.append(Choice(s, w, r, float(np.mean((p + t[tr].mean() - t[val]) ** 2))))
                    if best is None or grid[-1].mse < best[0].mse:
                        best = (grid[-1], f, w * w * max(m2, 1e-300), s * scale)
        assert best is not None
        self.grid, self.choice = tuple(grid), best[0]
        self._features, self._width2, self._bandwidth = best[1], best[2], best[3]
        self._loc = float(t.mean())
        self._train = self._features.embed(X, mask)  # (B, F)
        K = np.exp(-squared_distances(self._train, self._train).numpy() / (2 * self._width2))
        self._krr = ridge_fit(K, t, self.choice.ridge)
        return self

    def predict(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> np.ndarray:
        """Predicted statistics (B,) float64 of sets X (B, M, D)."""
        if not hasattr(self, "_krr"):
            raise RuntimeError("SDM.predict needs a fitted model: call fit(X, y) first")
        X, mask = float64_sets(X, mask)
        D = self._features.omega.shape[0]
        if X.shape[2] != D:
            raise ValueError(f"X must have D = {D} features per sample like the training sets")
        K = self.kernel(X, mask)  # (B, N)
        return np.asarray(self._krr.predict(K), dtype=np.float64) + self._loc

    def kernel(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> np.ndarray:
        """The fitted kernel between sets X (B, M, D) and the training sets: (B, N)."""
        if not hasattr(self, "_krr"):
            raise RuntimeError("SDM.kernel needs a fitted model: call fit(X, y) first")
        X, mask = float64_sets(X, mask)
        E = self._features.embed(X, mask)  # (B, F)
        return np.exp(-squared_distances(E, self._train).numpy() / (2 * self._width2))

    @property
    def width(self) -> float:
        """The fitted RBF width w on the MMD, in absolute units."""
        return math.sqrt(self._width2)

    @property
    def bandwidth(self) -> float:
        """The fitted base kernel bandwidth s on the samples, in absolute units."""
        return self._bandwidth


def check_targets(y: object, B: int) -> np.ndarray:
    """Targets (B,) or (B, 1) as a float64 array (B,), else a clear error."""
    if not isinstance(y, torch.Tensor | np.ndarray) or tuple(y.shape) not in ((B,), (B, 1)):
        got = tuple(y.shape) if isinstance(y, torch.Tensor | np.ndarray) else type(y).__name__
        raise ValueError(f"y must hold one target per set, shape ({B},) or ({B}, 1), got {got}")
    t = np.asarray(y, dtype=np.float64).reshape(B)
    if not np.isfinite(t).all():
        raise ValueError("y must be finite")
    return t


def ridge_fit(K: np.ndarray, t: np.ndarray, ridge: float) -> Any:
    """scikit-learn's KernelRidge on the precomputed kernel K (n, n), targets t centred.
    (Imported here: scikit-learn adds a second to every start of the command line.)"""
    from sklearn.kernel_ridge import KernelRidge  # type: ignore[import-untyped]

    return KernelRidge(alpha=ridge, kernel="precomputed").fit(K, t - t.mean())


def median_distance(X: torch.Tensor, mask: torch.Tensor, g: torch.Generator) -> float:
    """The median distance between MEDIAN_SAMPLES samples drawn (with replacement) from the
    real samples of X (B, M, D): the scale of the base kernel's bandwidth."""
    real = X[mask]  # (n, D)
    pick = torch.randint(real.shape[0], (MEDIAN_SAMPLES,), generator=g)
    d = squared_distances(real[pick], real[pick]).sqrt()  # (S, S)
    return float(d[torch.triu(torch.ones_like(d, dtype=torch.bool), 1)].median())
