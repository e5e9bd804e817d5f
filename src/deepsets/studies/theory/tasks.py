"""Tasks of the theory study: sets whose targets test what sum-decomposition can represent.

Shape letters: B sets, N objects per set (the padded size for sets of varying size), F = 1
feature per object. Every task returns (X (B, N, 1), mask (B, N) True for real objects, y) and
takes a generator (a torch.Generator or an integer seed): the same seed gives the same sets.

- `median_sets`: the median of N reals (Wagstaff et al. 2019: latent width against set size).
- `multiplicity_sets`: does a value occur at least `threshold` times? Sum pooling is injective
  on multisets, mean and max are not (Xu et al. 2019); `colliding_pairs` shows sets they merge.
- `mean_sets`: the mean of N reals, which max pooling cannot represent (Bueno & Hylton 2021).
- `above_mean_sets`: per object, is x_i above its set's mean (an equivariant target; Zaheer et
  al. 2017, Segol & Lipman 2020); `per_element_ceiling` is the best accuracy without interaction.
- `exercise_sets`: the exercise's task (`deepsets.data.make_data`) in the same form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepsets.checks import as_generator, check_memory, check_n_sets, positive_float, positive_int
from deepsets.data import make_data

Sets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # X (B, N, 1), mask (B, N), y
BYTES_PER_OBJECT = 16  # X, its mask and the scratch of making them, per object of a set


def _check_size(B: object, N: object, what: str) -> tuple[int, int]:
    B, N = positive_int(B, "B (number of sets)"), positive_int(N, "N (objects per set)")
    check_memory(B * N * BYTES_PER_OBJECT, f"{what}(B={B}, N={N})")
    return B, N


def _full(B: int, N: int) -> torch.Tensor:
    return torch.ones(B, N, dtype=torch.bool)  # (B, N): every object real


def median_sets(B: int, N: int, *, generator: torch.Generator | int | None = None) -> Sets:
    """B sets of N reals uniform on [-1, 1); y (B, 1) is each set's median.

    For even N the median is the mean of the two middle values (numpy's convention).
    """
    B, N = _check_size(B, N, "median_sets")
    g = as_generator(generator)
    x = 2 * torch.rand(B, N, generator=g) - 1  # (B, N)
    s = x.sort(dim=1).values  # (B, N)
    y = (s[:, (N - 1) // 2] + s[:, N // 2]) / 2  # (B,): one middle value twice when N is odd
    return x.unsqueeze(-1), _full(B, N), y.unsqueeze(-1)


def mean_sets(B: int, N: int, *, generator: torch.Generator | int | None = None) -> Sets:
    """B sets of N reals uniform on [0, 1); y (B, 1) is each set's mean."""
    B, N = _check_size(B, N, "mean_sets")
    x = torch.rand(B, N, generator=as_generator(generator))  # (B, N)
    return x.unsqueeze(-1), _full(B, N), x.mean(dim=1, keepdim=True)


def symbol_values(alphabet: int) -> torch.Tensor:
    """The object values of `multiplicity_sets`: symbol a in 0..alphabet-1 is (a + 1) / alphabet
    (never 0, the value of padding)."""
    A = positive_int(alphabet, "alphabet")
    return (torch.arange(A) + 1) / A  # (A,)


def multiplicity_sets(
    B: int,
    *,
    alphabet: int = 4,
    max_distinct: int = 3,
    max_multiplicity: int = 4,
    threshold: int = 3,
    generator: torch.Generator | int | None = None,
) -> Sets:
    """Multisets in which every distinct value occurs equally often, m times; y = [m >= threshold].

    Each set holds d distinct symbols (d uniform on 1..max_distinct, drawn without replacement
    from `alphabet` symbols, valued `symbol_values`), each repeated m times (m uniform on
    1..max_multiplicity), in random order, zero-padded to N = max_distinct * max_multiplicity.
    The distinct symbols, and so anything mean or max pooling can see (both are unchanged when
    every element is repeated m times), are independent of m: on this task mean and max pooling
    are at chance whatever phi and rho are, while the sum of one-hot features counts m.

    Returns:
        X float32 (B, N, 1), mask bool (B, N), y float32 (B, 1).
    """
    B = positive_int(B, "B (number of sets)")
    A, D = positive_int(alphabet, "alphabet"), positive_int(max_distinct, "max_distinct")
    M, T = positive_int(max_multiplicity, "max_multiplicity"), positive_int(threshold, "threshold")
    if D > A:
        raise ValueError(f"max_distinct must be at most alphabet ({A}), got {D}")
    if not 1 < T <= M:
        raise ValueError(f"threshold must be in 2..max_multiplicity ({M}), got {T}")
    N = D * M
    what = f"multiplicity_sets(B={B}, max_distinct={D}, max_multiplicity={M})"
    check_memory(B * N * BYTES_PER_OBJECT, what)
    g = as_generator(generator)
    d = torch.randint(1, D + 1, (B,), generator=g)  # (B,) distinct symbols per set
    m = torch.randint(1, M + 1, (B,), generator=g)  # (B,) multiplicity of each of them
    symbols = torch.rand(B, A, generator=g).argsort(dim=1)[:, :D]  # (B, D) distinct symbols
    slot = torch.arange(N)  # (N,)
    which = slot // M  # (N,) the symbol slot j a position belongs to, in blocks of M
    real = (which < d.unsqueeze(1)) & (slot % M < m.unsqueeze(1))  # (B, N)
    values = symbol_values(A)[symbols.gather(1, which.expand(B, N))]  # (B, N)
    x = torch.where(real, values, 0.0)  # (B, N)
    keys = torch.where(real, torch.rand(B, N, generator=g), 2.0)  # (B, N): real objects first
    order = keys.argsort(dim=1)  # (B, N)
    x, mask = x.gather(1, order), real.gather(1, order)  # (B, N) each, shuffled within a set
    y = (m >= T).to(torch.float32).unsqueeze(1)  # (B, 1)
    return x.unsqueeze(-1), mask, y


@dataclass(frozen=True)
class CollidingPair:
    """Two multisets with different multiplicity labels that some poolings merge."""

    a: tuple[float, ...]
    """The first multiset's values."""
    b: tuple[float, ...]
    """The second multiset's values."""
    merged_by: tuple[str, ...]
    """The poolings under which pool_i phi(x_i) is the same for a and b, whatever phi is."""


def colliding_pairs(alphabet: int = 4) -> tuple[CollidingPair, ...]:
    """Pairs of multisets of `multiplicity_sets` (labels 0 and 1) that mean and max pool alike.

    {u} against {u, u, u}, and {u, v} against {u, u, u, v, v, v}: repeating every element
    m times changes neither the mean nor the max of phi, only the sum.
    """
    if positive_int(alphabet, "alphabet") < 2:
        raise ValueError(f"alphabet must be at least 2 (a pair needs two symbols), got {alphabet}")
    u, v = (float(s) for s in symbol_values(alphabet)[:2])
    return (
        CollidingPair((u,), (u, u, u), ("mean", "max")),
        CollidingPair((u, v), (u, u, u, v, v, v), ("mean", "max")),
    )


def above_mean_sets(
    B: int, N: int = 10, *, spread: float = 2.0, generator: torch.Generator | int | None = None
) -> Sets:
    """Per object, is it above its set's mean? x_ij = c_j + e_ij, c_j ~ N(0, spread^2) one offset
    per set, e_ij ~ N(0, 1); y (B, N) = [x_ij > mean_i x_ij], a permutation-equivariant target.

    The offset c_j hides the set's mean from a network that sees one object at a time; see
    `per_element_ceiling` for the best accuracy such a network can reach.
    """
    B, N = _check_size(B, N, "above_mean_sets")
    if N < 2:
        raise ValueError(f"N must be at least 2 (one object is never above its own mean), got {N}")
    s = positive_float(spread, "spread")
    g = as_generator(generator)
    c = s * torch.randn(B, 1, generator=g)  # (B, 1) one offset per set
    x = c + torch.randn(B, N, generator=g)  # (B, N)
    y = (x > x.mean(dim=1, keepdim=True)).to(torch.float32)  # (B, N)
    return x.unsqueeze(-1), _full(B, N), y


def per_element_ceiling(N: int = 10, spread: float = 2.0) -> float:
    """The best accuracy on `above_mean_sets` of any rule that sees only x_i, exactly.

    x_i and D = x_i - mean(x) are jointly Gaussian with correlation
    rho = sqrt((1 - 1/N) / (spread^2 + 1)); P(D > 0 | x_i) increases with x_i, so the best rule
    is the sign of x_i, right with probability 1/2 + arcsin(rho) / pi (Sheppard's formula).
    """
    N = positive_int(N, "N (objects per set)")
    if N < 2:
        raise ValueError(f"N must be at least 2, got {N}")
    s = positive_float(spread, "spread")
    rho = math.sqrt((1 - 1 / N) / (s * s + 1))
    return 0.5 + math.asin(rho) / math.pi


def exercise_sets(B: int, *, generator: torch.Generator | int | None = None) -> Sets:
    """The exercise's task (`make_data(B)`: three objects at 1/3 or five at 1/5 among 10)."""
    X, y = make_data(check_n_sets(B, "B"), generator=generator)  # (B, 10, 1), (B, 1)
    return X, _full(X.shape[0], X.shape[1]), y
