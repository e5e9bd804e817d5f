"""The Set Transformer's synthetic benchmarks (Lee et al. 2019): max regression (Table 1) and
amortized clustering of mixtures of Gaussians (section 5.3), with the clustering's losses.

Max regression: sets of n ~ U{lo..hi} reals x ~ U[0, high]; the target is their maximum.
Mixtures: each set holds n ~ U{lo..hi} points in 2-D from a mixture of k isotropic Gaussians,
pi ~ Dir(1), mu ~ U(-4, 4)^2, sigma = 0.3 (the paper's text: n from 100 to 500). A model
predicts each component's (pi, mu, sigma) as 4 numbers (`MIXTURE_OUTPUTS`: the logit of pi,
mu, and sigma before a softplus, as the paper's code parses them); `mixture_nll` is its loss,
the negative log-likelihood per point of the set's points, which the engine trains on as
`train_on(..., loss="mixture_nll")` with the sets' `targets` as y.

Shape letters: B sets, N objects (the largest set), K mixture components.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from deepsets.checks import (
    as_generator,
    check_finite,
    check_memory,
    check_sizes,
    positive_float,
    positive_int,
)
from deepsets.engine.losses import register_loss

DIM = 2  # the points' dimension
MAX_BYTES = 5  # per object of a max-regression set: its float32 value and its mask
MIXTURE_BYTES = 4 * DIM * 2 + 9  # per point of a mixture set: coordinates, scratch, mask
MIXTURE_OUTPUTS = 1 + DIM + 1  # per component: logit of pi, mu (2), sigma before the softplus
SIGMA_FLOOR = 1e-4  # added to the softplus: a predicted sigma never reaches 0 (log 0 = -inf)
MEAN_RANGE = 4.0  # mu ~ U(-MEAN_RANGE, MEAN_RANGE)^2
SIGMA = 0.3  # every component's standard deviation


def _mask(B: int, lo: int, hi: int, g: torch.Generator) -> torch.Tensor:
    """(B, N) True at the first n_b positions, n_b uniform in [lo, hi]."""
    n = torch.randint(lo, hi + 1, (B, 1), generator=g)  # (B, 1)
    return torch.arange(hi).unsqueeze(0) < n  # (B, N)


def max_regression(
    n_sets: int,
    sizes: tuple[int, int] = (1, 10),
    *,
    high: float = 100.0,
    generator: torch.Generator | int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sets of reals x ~ U[0, high], each of a uniform size in [lo, hi] (lo >= 1: an empty set
    has no maximum); the target is the largest.

    Returns:
        X (B, N, 1) float32 (0 at padding), mask (B, N) bool, y (B, 1) float32 maxima.
    """
    B, g = positive_int(n_sets, "n_sets"), as_generator(generator)
    lo, hi = check_sizes(sizes)
    if lo < 1:
        raise ValueError(f"sizes[0] must be >= 1 (an empty set has no maximum), got {sizes!r}")
    high = positive_float(high, "high")
    check_memory(B * hi * MAX_BYTES, f"max_regression(n_sets={B}, sizes={sizes!r})")
    x = torch.rand(B, hi, generator=g) * high  # (B, N)
    mask = _mask(B, lo, hi, g)  # (B, N)
    X = torch.where(mask, x, 0.0)  # (B, N)
    y = X.amax(dim=1, keepdim=True)  # (B, 1): x >= 0, so padding's 0 never wins
    return X.unsqueeze(-1), mask, y


@dataclass(frozen=True)
class MixtureSets:
    """Sets of points from mixtures of Gaussians, with the mixtures that drew them.

    points (B, N, 2) float32 (0 at padding), mask (B, N) bool, pi (B, K), mu (B, K, 2),
    sigma (B, K): the true parameters of each set's mixture.
    """

    points: torch.Tensor
    mask: torch.Tensor
    pi: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor

    @property
    def targets(self) -> torch.Tensor:
        """y for `mixture_nll`: the points with the mask as a third channel (B, N, 3)."""
        return torch.cat([self.points, self.mask.unsqueeze(-1).to(self.points.dtype)], dim=-1)


def mixture_sets(
    n_sets: int,
    sizes: tuple[int, int] = (100, 500),
    *,
    components: int = 4,
    generator: torch.Generator | int | None,
) -> MixtureSets:
    """`n_sets` sets of n ~ U{lo..hi} points from their own mixture of `components` Gaussians
    (pi ~ Dir(1), mu ~ U(-4, 4)^2, sigma = 0.3), padded to hi points with a mask."""
    B, g = positive_int(n_sets, "n_sets"), as_generator(generator)
    K = positive_int(components, "components")
    lo, hi = check_sizes(sizes)
    check_memory(B * hi * MIXTURE_BYTES, f"mixture_sets(n_sets={B}, sizes={sizes!r})")
    e = -torch.log1p(-torch.rand(B, K, generator=g))  # (B, K) Exp(1) = Gamma(1)
    pi = e / e.sum(dim=1, keepdim=True)  # (B, K) ~ Dir(1, ..., 1)
    mu = (torch.rand(B, K, DIM, generator=g) * 2 - 1) * MEAN_RANGE  # (B, K, 2)
    sigma = torch.full((B, K), SIGMA)  # (B, K)
    labels = torch.multinomial(pi, hi, replacement=True, generator=g)  # (B, N)
    noise = torch.randn(B, hi, DIM, generator=g)  # (B, N, 2)
    rows = torch.arange(B).unsqueeze(1)  # (B, 1)
    x = mu[rows, labels] + noise * sigma[rows, labels].unsqueeze(-1)  # (B, N, 2)
    mask = _mask(B, lo, hi, g)  # (B, N)
    points = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, N, 2)
    return MixtureSets(points, mask, pi, mu, sigma)


def log_likelihood(
    points: torch.Tensor,
    mask: torch.Tensor,
    log_pi: torch.Tensor,
    mu: torch.Tensor,
    sigma: torch.Tensor,
) -> torch.Tensor:
    """Each set's mean log-likelihood per real point (B,) under its isotropic mixture:
    log sum_k pi_k N(x | mu_k, sigma_k^2 I), by a stable log-sum-exp over the components.

    points (B, N, 2), mask (B, N), log_pi (B, K), mu (B, K, 2), sigma (B, K). An empty set's
    mean is 0.
    """
    d2 = (points.unsqueeze(2) - mu.unsqueeze(1)).pow(2).sum(-1)  # (B, N, K)
    s2 = sigma.pow(2).unsqueeze(1)  # (B, 1, K)
    log_n = -0.5 * d2 / s2 - 0.5 * DIM * math.log(2 * math.pi) - 0.5 * DIM * s2.log()  # (B, N, K)
    ll = torch.logsumexp(log_n + log_pi.unsqueeze(1), dim=-1)  # (B, N)
    ll = ll.masked_fill(~mask, 0.0)  # (B, N)
    n = mask.sum(dim=1).clamp(min=1).to(ll.dtype)  # (B,)
    return ll.sum(dim=1) / n  # (B,)


def oracle_log_likelihood(sets: MixtureSets) -> torch.Tensor:
    """Each set's mean log-likelihood per point (B,) under the true mixture, in float64."""
    if not isinstance(sets, MixtureSets):
        raise TypeError(f"sets must be a MixtureSets, got {type(sets).__name__}")
    d = torch.float64
    return log_likelihood(
        sets.points.to(d), sets.mask, sets.pi.to(d).log(), sets.mu.to(d), sets.sigma.to(d)
    )


def mixture_parameters(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A model's outputs p (..., K, 4) -> log pi (..., K), mu (..., K, 2), sigma (..., K)."""
    if not isinstance(p, torch.Tensor) or p.dim() < 2 or p.shape[-1] != MIXTURE_OUTPUTS:
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"mixture outputs must have shape (..., K, {MIXTURE_OUTPUTS}), got {got}")
    log_pi = torch.log_softmax(p[..., 0], dim=-1)  # (..., K)
    sigma = F.softplus(p[..., 1 + DIM]) + SIGMA_FLOOR  # (..., K)
    return log_pi, p[..., 1 : 1 + DIM], sigma


def mixture_nll(p: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The negative log-likelihood per point of each set's points under its predicted mixture.

    Arguments:
        p: predicted mixtures (..., K, 4) (`mixture_parameters`).
        y: the sets' targets (..., N, 3): points and the mask channel (`MixtureSets.targets`).
        reduction: "none" (one number per set, (...,)), "mean" or "sum" over the sets.
    """
    if not isinstance(y, torch.Tensor) or y.dim() < 2 or y.shape[-1] != DIM + 1:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be points with a mask channel (..., N, {DIM + 1}), got {got}")
    check_finite(y, "y")  # a NaN in the mask channel would read as padding, silently
    log_pi, mu, sigma = mixture_parameters(p)
    if p.shape[:-2] != y.shape[:-2]:
        raise ValueError(f"p {tuple(p.shape)} and y {tuple(y.shape)} must hold the same sets")
    lead = y.shape[:-2]
    K, N = p.shape[-2], y.shape[-2]
    ll = log_likelihood(
        y[..., :DIM].reshape(-1, N, DIM),
        y[..., DIM].reshape(-1, N) > 0.5,
        log_pi.reshape(-1, K),
        mu.reshape(-1, K, DIM),
        sigma.reshape(-1, K),
    ).reshape(lead)  # (...,)
    if reduction == "none":
        return -ll
    if reduction == "mean":
        return -ll.mean()
    if reduction == "sum":
        return -ll.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


register_loss("mixture_nll", mixture_nll)  # train_on(..., loss="mixture_nll") from now on
