"""The exercise's data: bags of scalar objects; class 0 has three at 1/3, class 1 five at 1/5.

Shape letters: T batches, B sets per batch, N objects per set, F = 1 feature per object
(`make_data(N)` keeps the exercise's name: there N counts sets). Every set sums to 1, which is
why a DeepSet whose `phi` is affine cannot tell the classes apart; there are only
C(10, 3) + C(10, 5) = 372 distinct sets of 10 (`all_sets`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import torch

from deepsets.checks import (
    as_generator,
    check_memory,
    check_n_sets,
    check_sizes,
    is_int,
    positive_int,
    resolve_device,
)

# class label -> how many objects are nonzero; each nonzero object has value 1 / count
COUNTS = {0: 3, 1: 5}
MIN_OBJECTS = max(COUNTS.values())  # the smallest set a class-1 set fits in
# Peak memory of making data (ru_maxrss for 2e6 sets of 10 and 100 objects: 20-22.5 B/object)
BYTES_PER_OBJECT, BYTES_PER_SET = 24, 32
CHUNK = 250  # batches made per generator call: the per-call overhead is paid once per chunk


def data_bytes(n_sets: int, n_objects: int) -> int:
    """The peak bytes of making `n_sets` sets of `n_objects` objects (measured, above)."""
    return n_sets * (n_objects * BYTES_PER_OBJECT + BYTES_PER_SET)


def check_n_objects(n_objects: object, name: str = "n_objects") -> int:
    """Validate a set size: an integer of at least 5, so a class-1 set fits."""
    if not is_int(n_objects):
        raise TypeError(f"{name} must be an integer >= 5, got {n_objects!r}")
    if n_objects < MIN_OBJECTS:
        raise ValueError(
            f"{name} must be at least {MIN_OBJECTS} (class 1 has five nonzero objects), "
            f"got {n_objects}"
        )
    return int(n_objects)


def check_data_memory(n_sets: int, n_objects: int, what: str) -> None:
    """Refuse before allocating if `n_sets` sets of `n_objects` would not fit in memory."""
    check_memory(data_bytes(n_sets, n_objects), what)


# all_sets enumerates the 2**N patterns of N objects: 2**20 patterns take ~100 MB on the way
MAX_ENUMERATED_OBJECTS = 20


def all_sets(
    n_objects: int = 10, *, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every distinct set of N = n_objects (5..MAX_ENUMERATED_OBJECTS) once: C(N, 3) of class
    0, then C(N, 5) of class 1, each class ordered by the binary number whose bit i says whether
    object i is nonzero. Returns X float32 (B, N, 1) and y float32 (B, 1), on `device` (cpu)."""
    n = check_n_objects(n_objects)
    if n > MAX_ENUMERATED_OBJECTS:
        raise ValueError(
            f"n_objects must be at most {MAX_ENUMERATED_OBJECTS} for all_sets (it enumerates "
            f"2**n_objects patterns), got {n}"
        )
    device = resolve_device(device) if device is not None else torch.device("cpu")
    codes = torch.arange(2**n, device=device)  # (2**N,): every pattern of nonzero positions
    bits = (codes.unsqueeze(-1) >> torch.arange(n, device=device)) & 1  # (2**N, N)
    count = bits.sum(dim=-1)  # (2**N,) nonzero objects of each pattern
    X, y = [], []
    for label, k in COUNTS.items():
        chosen = bits[count == k].to(torch.float32)  # (C(N, k), N)
        X.append(chosen / k)
        y.append(torch.full((chosen.shape[0],), float(label), device=device))
    return torch.cat(X).unsqueeze(-1), torch.cat(y).unsqueeze(-1)


def data_device(
    generator: torch.Generator | int | None, device: torch.device | str | None
) -> tuple[torch.Generator, torch.device]:
    """The generator to draw from and the device to make data on (default: the generator's)."""
    if device is not None:
        device = resolve_device(device)
    g = as_generator(generator, device)
    return g, device if device is not None else g.device


# Sets of up to this many objects are drawn from the table of all_sets (one uniform number per
# set; 3.7x faster than ranking N uniform keys, the same distribution); others are ranked.
TABLE_OBJECTS = 16


def _pick(n_objects: int, y: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each set one arrangement of its class, uniformly from `all_sets`: y (...,) -> X (..., N)."""
    table, n0 = _arrangements(n_objects, y.device)  # (A, N): class 0's n0 rows, then class 1's
    u = torch.rand(y.shape, generator=g, device=y.device)  # (...,) uniform in [0, 1)
    n = torch.where(y == 0, n0, table.shape[0] - n0)  # (...,) arrangements of the set's class
    index = (u * n).long().clamp_(max=n - 1) + torch.where(y == 0, 0, n0)  # (...,)
    return table[index]  # (..., N)


@functools.lru_cache(maxsize=16)
def _arrangements(n_objects: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """all_sets(n_objects) as a table (A, N) of values, and how many rows are class 0."""
    X, y = all_sets(n_objects, device=device)
    return X[..., 0], int((y == 0).sum())


def _fill(
    sizes: torch.Tensor | None, n_objects: int, y: torch.Tensor, g: torch.Generator
) -> torch.Tensor:
    """X (..., N): each set's nonzero objects at uniformly random positions among its first
    `sizes` (..., ) (None: all n_objects), for labels y (..., )."""
    device = y.device
    if sizes is None and n_objects <= TABLE_OBJECTS:
        return _pick(n_objects, y, g)
    # Rank uniform noise: the `count` smallest keys among the real objects are the nonzero ones.
    keys = torch.rand(*y.shape, n_objects, generator=g, device=device)  # (..., N)
    if sizes is not None:  # padding gets key 2 (> any uniform), so it is never chosen
        slot = torch.arange(n_objects, device=device)  # (N,)
        keys = torch.where(slot < sizes.unsqueeze(-1), keys, 2.0)
    order = keys.argsort(dim=-1)  # (..., N): positions in order of their key
    src = _values_by_rank(n_objects, device)[y.long()]  # (..., N)
    return torch.zeros_like(keys).scatter_(-1, order, src)  # (..., N)


@functools.lru_cache(maxsize=64)
def _values_by_rank(n_objects: int, device: torch.device) -> torch.Tensor:
    """(2, N): by class, the value of the object whose key ranks j-th (1/count or 0)."""
    slot = torch.arange(n_objects, device=device)  # (N,)
    counts = torch.tensor([COUNTS[0], COUNTS[1]], device=device).unsqueeze(-1)  # (2, 1)
    return (slot < counts).to(torch.float32) / counts  # (2, N)


def _labels(T: int, B: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """(T, B) labels, exactly B/2 of each class per batch, in random order."""
    order = torch.rand(T, B, generator=g, device=device).argsort(dim=-1)  # (T, B)
    return (order >= B // 2).to(torch.float32)  # (T, B): B/2 zeros then B/2 ones, shuffled


def make_batches(
    T: int,
    B: int,
    *,
    n_objects: int = 10,
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """T balanced batches of B (even) sets of n_objects (>= 5), in one vectorized call:
    X float32 (T, B, N, 1), y float32 (T, B, 1). `generator` and `device` as in `make_data`
    (device default: the generator's)."""
    T, B = positive_int(T, "T (number of batches)"), check_n_sets(B, "B")
    n_objects = check_n_objects(n_objects)
    check_data_memory(T * B, n_objects, f"make_batches(T={T}, B={B}, n_objects={n_objects})")
    g, device = data_device(generator, device)
    y = _labels(T, B, g, device)  # (T, B)
    X = _fill(None, n_objects, y, g)  # (T, B, N)
    return X.unsqueeze(-1), y.unsqueeze(-1)


def make_data(
    N: int,
    *,
    n_objects: int = 10,
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The exercise's `make_data(N)`: N (even) sets of n_objects, N/2 of each class, in random
    order: X float32 (N, n_objects, 1), y float32 (N, 1) labels in {0, 1}. `generator`: a
    torch.Generator or integer seed for reproducible data, None draws fresh."""
    N = check_n_sets(N)
    check_data_memory(N, check_n_objects(n_objects), f"make_data(N={N}, n_objects={n_objects})")
    X, y = make_batches(1, N, n_objects=n_objects, generator=generator, device=device)
    return X[0], y[0]


def make_padded_batches(
    T: int,
    B: int,
    sizes: tuple[int, int],
    *,
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """T balanced batches of B sets of varying size (`make_padded_data`): X float32
    (T, B, hi, 1), y float32 (T, B, 1), mask bool (T, B, hi)."""
    T, B = positive_int(T, "T (number of batches)"), check_n_sets(B, "B")
    lo, hi = check_sizes(sizes, least=MIN_OBJECTS)
    check_data_memory(T * B, hi, f"make_padded_batches(T={T}, B={B}, sizes={sizes!r})")
    g, device = data_device(generator, device)
    y = _labels(T, B, g, device)  # (T, B)
    n = torch.randint(lo, hi + 1, (T, B), generator=g, device=device)  # (T, B) true sizes
    X = _fill(n, hi, y, g)  # (T, B, hi)
    mask = torch.arange(hi, device=device) < n.unsqueeze(-1)  # (T, B, hi)
    return X.unsqueeze(-1), y.unsqueeze(-1), mask


def make_padded_data(
    N: int,
    sizes: tuple[int, int],
    *,
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`make_data` for sets of varying size: each set's size uniform on sizes = (lo, hi),
    5 <= lo <= hi, zero-padded to hi. Returns X float32 (N, hi, 1), y float32 (N, 1) and
    mask bool (N, hi), True for real objects."""
    N = check_n_sets(N)
    hi = check_sizes(sizes, least=MIN_OBJECTS)[1]
    check_data_memory(N, hi, f"make_padded_data(N={N}, sizes={sizes!r})")
    X, y, mask = make_padded_batches(1, N, sizes, generator=generator, device=device)
    return X[0], y[0], mask[0]


def chunks(
    steps: int,
    batch_size: int,
    *,
    n_objects: int = 10,
    sizes: tuple[int, int] | None = None,
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """The training data of `steps` steps, checked at the call: blocks of t <= CHUNK batches,
    X (t, B, N, 1), y (t, B, 1) [, mask (t, B, hi) with `sizes=(lo, hi)`]."""
    steps = positive_int(steps, "steps")
    batch_size = check_n_sets(batch_size, "batch_size")
    if sizes is None:
        N = check_n_objects(n_objects)
    else:
        N = check_sizes(sizes, least=MIN_OBJECTS)[1]
    check_data_memory(min(steps, CHUNK) * batch_size, N, f"batch_size={batch_size}")
    g, where = data_device(generator, device)

    def blocks() -> Iterator[tuple[torch.Tensor, ...]]:
        for done in range(0, steps, CHUNK):
            t = min(CHUNK, steps - done)
            if sizes is None:
                yield make_batches(t, batch_size, n_objects=N, generator=g, device=where)
            else:
                yield make_padded_batches(t, batch_size, sizes, generator=g, device=where)

    return blocks()

