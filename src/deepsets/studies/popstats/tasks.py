"""Population statistics (Zaheer et al. 2017, section 4.1.1, Figure 1): sets of Gaussian samples.

Each set holds M samples of a zero-mean Gaussian N(0, Sigma_b); its target is a statistic of
that Gaussian (an entropy or a mutual information), computed exactly in float64 from its
closed form (log-determinants), for the distribution the samples are actually drawn from.

The four tasks, as the paper's text states them (the labels follow the text; the released code
`PopStats/generator/*.m` labels three of them differently, noted per task):

- `rotation`: Sigma = R(a) S R(a)^T, S a fixed random 2x2 covariance, a ~ U[0, pi); target:
  the entropy of the first coordinate, 1/2 log(2 pi e Sigma_11).
- `correlation`: Sigma = [[S, a S], [a S, S]], S a fixed random k x k covariance (k = 16, so
  sets are 2k = 32-dimensional), a ~ U(-1, 1); target: the mutual information between the
  first k and the last k coordinates, -k/2 log(1 - a^2).
- `rank1`: Sigma = I + l v v^T in d = 32 dimensions, v a fixed random unit vector, l ~ U(0, 1);
  target: the entropy, d/2 log(2 pi e) + 1/2 log(1 + l).
- `random`: a fresh random covariance per set in d = 32 dimensions; target: the entropy,
  1/2 logdet(2 pi e Sigma).

The fixed S and v are drawn once from their own seed (`PARAMETER_SEED`), as the code fixes them
with MATLAB's rng(3) (not the same numbers: that is MATLAB's stream); the random covariances are
the code's recipe, (A A^T + I) / sum(A^2) with A uniform on [0, 1)^{k x k}. The code's sizes:
`SAMPLES` samples per set, `TEST_SETS` test sets, training sizes `TRAIN_SIZES`.

Shape letters: B sets, M samples per set (the padded size for sets of varying size), D the
dimension of a sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from deepsets.checks import as_generator, check_memory, check_sizes, positive_int, seed_int

TASKS = ("rotation", "correlation", "rank1", "random")
SAMPLES = 512  # M: samples per set in the released code (the paper's text: 300 to 500)
TEST_SETS = 512  # test (and validation) sets per task in the released code
TRAIN_SIZES = tuple(2**k for k in range(7, 18))  # N: the code's training sizes, 2^7 to 2^17
HALF = 16  # k of `correlation`: S is k x k, a sample has 2k coordinates
DIM = 32  # d of `rank1` and `random`
DIMENSIONS = {"rotation": 2, "correlation": 2 * HALF, "rank1": DIM, "random": DIM}  # D per task
PARAMETER_SEED = 3  # the seed of the fixed S and v (the code fixes them with rng(3))
LOG_2PIE = math.log(2 * math.pi * math.e)
CHUNK_SETS = 1024  # sets drawn per float64 chunk (bounds the float64 scratch memory)


def population_bytes(n_sets: int, samples: int, D: int) -> int:
    """The bytes of `n_sets` sets of `samples` samples of D features: float32 samples and
    each set's float64 covariance."""
    return n_sets * samples * D * 4 + n_sets * D * D * 8


@dataclass(frozen=True)
class PopulationSets:
    """Sets of Gaussian samples with their exact statistics."""

    X: torch.Tensor
    """(B, M, D) float32 samples; zero at padding."""
    mask: torch.Tensor
    """(B, M) bool, True for real samples (all True for sets of fixed M)."""
    y: torch.Tensor
    """(B, 1) float64 targets, exact (the statistic of N(0, covariance[b]))."""
    covariance: torch.Tensor
    """(B, D, D) float64: the covariance each set's samples are drawn from."""
    parameter: torch.Tensor
    """(B,) float64: the task's parameter (the angle a, the correlation a, l), or NaN
    (`random` has none)."""


def fixed_matrix(k: int, seed: int = PARAMETER_SEED) -> torch.Tensor:
    """The code's random covariance (A A^T + I) / sum(A^2), A uniform on [0, 1)^{k x k}, from
    `seed` (float64 (k, k), symmetric positive definite)."""
    k = positive_int(k, "k")
    A = torch.rand(k, k, generator=as_generator(seed_int(seed)), dtype=torch.float64)
    return random_covariances(A.unsqueeze(0))[0]


def random_covariances(A: torch.Tensor) -> torch.Tensor:
    """(A A^T + I) / sum(A^2) for each A (B, k, k): the code's random covariance."""
    k = A.shape[-1]
    eye = torch.eye(k, dtype=A.dtype)
    return (A @ A.transpose(1, 2) + eye) / (A * A).sum(dim=(1, 2)).view(-1, 1, 1)  # (B, k, k)


def rotation_base(seed: int = PARAMETER_SEED) -> torch.Tensor:
    """The fixed 2x2 covariance S = A A^T of `rotation`, A uniform on [0, 1)^{2x2} as in the
    code (which calls A "the Cholesky factor of sigma")."""
    A = torch.rand(2, 2, generator=as_generator(seed_int(seed)), dtype=torch.float64)
    return A @ A.T  # (2, 2)


def rank1_vector(d: int = DIM, seed: int = PARAMETER_SEED) -> torch.Tensor:
    """The fixed v of `rank1`: uniform on [0, 1)^d, scaled to unit length, as in the code."""
    d = positive_int(d, "d")
    v = torch.rand(d, generator=as_generator(seed_int(seed)), dtype=torch.float64)
    unit: torch.Tensor = v / v.norm()  # (d,)
    return unit


def gaussian_entropy(covariance: torch.Tensor) -> torch.Tensor:
    """The differential entropy of N(0, Sigma) in nats, 1/2 logdet(2 pi e Sigma): (B, D, D) ->
    (B,), float64 via a Cholesky factor."""
    L = torch.linalg.cholesky(covariance.to(torch.float64))  # (B, D, D)
    D = covariance.shape[-1]
    return 0.5 * D * LOG_2PIE + torch.log(torch.diagonal(L, dim1=1, dim2=2)).sum(dim=1)


Draw = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def _rotation(B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigma = R(a) S R(a)^T, a ~ U[0, pi); y = 1/2 log(2 pi e Sigma_11).

    The code draws a on an even grid linspace(0, pi, L) and labels 1/2 log(2 pi e Sigma_11^2),
    which is the entropy plus 1/2 log Sigma_11 (it squares the variance).
    """
    a = math.pi * torch.rand(B, generator=g, dtype=torch.float64)  # (B,)
    c, s = torch.cos(a), torch.sin(a)
    R = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)  # (B, 2, 2)
    cov = R @ rotation_base() @ R.transpose(1, 2)  # (B, 2, 2)
    return cov, 0.5 * (LOG_2PIE + torch.log(cov[:, 0, 0])), a


def _correlation(B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigma = [[S, a S], [a S, S]], S fixed k x k, a ~ U(-1, 1); y = -k/2 log(1 - a^2), the
    mutual information between the two halves: 1/2 (logdet S + logdet S - logdet Sigma), as
    logdet Sigma = 2 logdet S + k log(1 - a^2).

    The code uses k = 8 (16 coordinates), draws a on a grid in [-0.99, 0.99] and labels
    -1/2 log(1 - a^2), the mutual information divided by k; its samples are R u for MATLAB's
    upper Cholesky factor R (R^T R = Sigma), so their covariance R R^T is not the one it labels.
    """
    S = fixed_matrix(HALF)  # (k, k)
    a = 2 * torch.rand(B, generator=g, dtype=torch.float64) - 1  # (B,), in [-1, 1)
    a = a.clamp(min=-1 + 2**-40)  # open at -1 as well: the covariance stays positive definite
    A = a.view(B, 1, 1)
    cov = torch.cat(
        [torch.cat([S.expand(B, -1, -1), A * S], 2), torch.cat([A * S, S.expand(B, -1, -1)], 2)], 1
    )  # (B, 2k, 2k)
    return cov, -0.5 * HALF * torch.log1p(-a * a), a


def _rank1(B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigma = I + l v v^T, |v| = 1, l ~ U(0, 1); y = d/2 log(2 pi e) + 1/2 log(1 + l).

    The code labels the total correlation, sum_i H(x_i) - H(x) =
    1/2 sum_i log(1 + l v_i^2) - 1/2 log(1 + l), which it calls mutual information.
    """
    v = rank1_vector()  # (d,)
    lam = torch.rand(B, generator=g, dtype=torch.float64)  # (B,)
    cov = torch.eye(DIM, dtype=torch.float64) + lam.view(B, 1, 1) * torch.outer(v, v)
    return cov, 0.5 * DIM * LOG_2PIE + 0.5 * torch.log1p(lam), lam


def _random(B: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigma = (A A^T + I) / sum(A^2), A uniform on [0, 1)^{d x d} per set; y = its entropy.

    The code labels the total correlation (as for `rank1`), and its samples' covariance is
    R R^T for the Cholesky factor R^T R = Sigma (another random covariance of the same logdet).
    """
    A = torch.rand(B, DIM, DIM, generator=g, dtype=torch.float64)  # (B, d, d)
    cov = random_covariances(A)  # (B, d, d)
    return cov, gaussian_entropy(cov), torch.full((B,), math.nan, dtype=torch.float64)


DRAWS: dict[str, Draw] = {
    "rotation": _rotation, "correlation": _correlation, "rank1": _rank1, "random": _random,
}  # fmt: skip


def check_task(task: object) -> str:
    """`task` if it is one of TASKS, else a ValueError naming them."""
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def population_sets(
    task: str,
    n_sets: int,
    samples: int = SAMPLES,
    *,
    sizes: tuple[int, int] | None = None,
    generator: torch.Generator | int | None,
) -> PopulationSets:
    """`n_sets` sets of Gaussian samples of `task` (one of TASKS) with their exact statistics.

    Arguments:
        task: "rotation", "correlation", "rank1" or "random" (the module docstring says what
            each is and how its label differs from the released code's).
        n_sets: B, the number of sets.
        samples: M, the samples per set (the code: 512).
        sizes: (lo, hi) for sets of varying size: set b holds M_b uniform in [lo, hi] samples,
            zero-padded to M = hi (then `samples` is ignored); None: every set holds `samples`.
        generator: a torch.Generator or integer seed; the same seed gives the same sets.

    Returns:
        `PopulationSets`: X (B, M, D) float32, mask (B, M), y (B, 1) float64 and each set's
        covariance and parameter.
    """
    task = check_task(task)
    B = positive_int(n_sets, "n_sets")
    lo, M = (positive_int(samples, "samples"),) * 2 if sizes is None else check_sizes(sizes)
    D = DIMENSIONS[task]
    check_memory(population_bytes(B, M, D), f"population_sets(n_sets={B}, samples={M})")
    g = as_generator(generator)
    cov, y, parameter = DRAWS[task](B, g)  # (B, D, D), (B,), (B,)
    L = torch.linalg.cholesky(cov)  # (B, D, D)
    X = torch.empty(B, M, D)  # float32
    for a in range(0, B, CHUNK_SETS):
        z = torch.randn(min(CHUNK_SETS, B - a), M, D, generator=g, dtype=torch.float64)
        X[a : a + CHUNK_SETS] = z @ L[a : a + CHUNK_SETS].transpose(1, 2)  # (b, M, D): z L^T
    n = (
        torch.randint(lo, M + 1, (B, 1), generator=g)
        if sizes is not None
        else torch.full((B, 1), M)
    )  # (B, 1) set sizes
    mask = torch.arange(M).unsqueeze(0) < n  # (B, M)
    X = X.masked_fill(~mask.unsqueeze(-1), 0.0)
    return PopulationSets(X, mask, y.unsqueeze(1), cov, parameter)
