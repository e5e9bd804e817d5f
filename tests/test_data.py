"""make_data and make_batches: shapes, exact contents, balance, uniform positions, bad inputs."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch

from deepsets import data, make_batches, make_data
from deepsets.data import all_sets

THIRD, FIFTH = torch.tensor(1 / 3), torch.tensor(1 / 5)  # float32, as the data stores them

# Upper 1e-6 quantiles of the chi-square distribution (scipy.stats.chi2.ppf(1 - 1e-6, dof)):
# a correct generator fails one of these tests with probability about one in a million.
CHI2_1E6 = {9: 44.81, 44: 103.70}


def chi_square(observed: np.ndarray, expected: float) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("N", [2, 10, 64])
@pytest.mark.parametrize("n_objects", [5, 10, 17])
def test_shapes_and_dtypes(N, n_objects):
    X, y = make_data(N, n_objects=n_objects)
    assert X.shape == (N, n_objects, 1) and y.shape == (N, 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert X.device.type == "cpu" and y.device.type == "cpu"


def test_default_set_size_is_ten():
    X, _ = make_data(4)
    assert X.shape == (4, 10, 1)


@pytest.mark.parametrize("N", [2, 6, 100, 1000])
def test_exact_class_balance(N):
    _, y = make_data(N)
    assert set(y.flatten().tolist()) <= {0.0, 1.0}
    assert int(y.sum()) == N // 2


@pytest.mark.parametrize("n_objects", [5, 10, 13])
def test_exact_contents_of_each_class(n_objects):
    X, y = make_data(200, n_objects=n_objects, generator=0)
    for x, label in zip(X[:, :, 0], y[:, 0], strict=True):
        count, value = (3, THIRD) if label == 0 else (5, FIFTH)
        expected = [0.0] * (n_objects - count) + [value.item()] * count
        assert sorted(x.tolist()) == expected  # exact: zeros and `count` copies of 1/count


def test_every_set_sums_to_one():
    X, _ = make_data(500, generator=1)
    torch.testing.assert_close(X.sum(dim=(1, 2)), torch.ones(500), atol=1e-6, rtol=0)


def test_positions_are_uniform_over_objects():
    N, n = 20_000, 10
    X, y = make_data(N, n_objects=n, generator=2024)
    for label, count in ((0, 3), (1, 5)):
        nonzero = (X[y[:, 0] == label, :, 0] != 0).numpy()  # (N/2, n)
        per_position = nonzero.sum(axis=0)  # (n,)
        assert chi_square(per_position, N / 2 * count / n) < CHI2_1E6[n - 1], per_position


def test_subsets_are_uniform_not_just_positions():
    """Pairs of nonzero positions are uniform too (a contiguous block at a random start is not)."""
    N, n = 20_000, 10
    X, y = make_data(N, n_objects=n, generator=7)
    pairs = list(itertools.combinations(range(n), 2))  # 45 pairs
    for label, count in ((0, 3), (1, 5)):
        nonzero = (X[y[:, 0] == label, :, 0] != 0).numpy()  # (N/2, n)
        observed = np.array([(nonzero[:, i] & nonzero[:, j]).sum() for i, j in pairs])
        expected = N / 2 * (count * (count - 1) / 2) / len(pairs)
        assert chi_square(observed, expected) < CHI2_1E6[len(pairs) - 1]


def test_rows_are_in_random_order():
    T, B = 2000, 10
    _, y = make_batches(T, B, generator=3)
    per_row = y[:, :, 0].sum(dim=0).numpy()  # (B,) how often each row is class 1
    assert chi_square(per_row, T / 2) < CHI2_1E6[B - 1], per_row
    assert len({tuple(row) for row in y[:50, :, 0].tolist()}) > 1  # not one fixed order


def test_different_on_every_call():
    X1, y1 = make_data(100)
    X2, y2 = make_data(100)
    assert not torch.equal(X1, X2)
    assert not torch.equal(y1, y2)


def test_reproducible_with_a_seed_or_a_generator():
    X1, y1 = make_data(100, generator=5)
    X2, y2 = make_data(100, generator=torch.Generator().manual_seed(5))
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    X3, _ = make_data(100, generator=6)
    assert not torch.equal(X1, X3)


def test_a_generator_is_advanced_so_consecutive_calls_differ():
    g = torch.Generator().manual_seed(0)
    X1, _ = make_data(50, generator=g)
    X2, _ = make_data(50, generator=g)
    assert not torch.equal(X1, X2)


@pytest.mark.parametrize("generator", [None, 11])
def test_global_torch_random_state_is_left_alone(generator):
    state = torch.get_rng_state()
    make_data(20, generator=generator)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    ("N", "error"),
    [
        (7, ValueError),
        (1, ValueError),
        (0, ValueError),
        (-2, ValueError),
        (4.0, TypeError),
        (2.5, TypeError),
        (True, TypeError),
        (False, TypeError),
        ("4", TypeError),
        (None, TypeError),
    ],
)
def test_bad_N_is_rejected_with_a_message_naming_value_and_expectation(N, error):
    with pytest.raises(error, match="positive even integer") as info:
        make_data(N)
    assert repr(N) in str(info.value)


@pytest.mark.parametrize(
    ("n_objects", "error"),
    [(4, ValueError), (0, ValueError), (-10, ValueError), (5.0, TypeError), (True, TypeError)],
)
def test_too_few_or_non_integer_objects_are_rejected(n_objects, error):
    with pytest.raises(error, match=re.escape(repr(n_objects))) as info:
        make_data(4, n_objects=n_objects)
    assert "n_objects" in str(info.value) and "5" in str(info.value)


def test_a_bad_generator_is_rejected():
    with pytest.raises(TypeError, match="generator"):
        make_data(4, generator="seed")


@pytest.mark.parametrize(("T", "B", "n_objects"), [(1, 2, 5), (3, 10, 10), (7, 4, 12)])
def test_make_batches_shapes_and_every_batch_exactly_balanced(T, B, n_objects):
    X, y = make_batches(T, B, n_objects=n_objects, generator=0)
    assert X.shape == (T, B, n_objects, 1) and y.shape == (T, B, 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    assert y.sum(dim=(1, 2)).tolist() == [B / 2] * T
    for t in range(T):  # each batch obeys the class rule
        nonzero = (X[t, :, :, 0] != 0).sum(dim=1)  # (B,)
        assert torch.equal(nonzero, torch.where(y[t, :, 0] == 1, 5, 3))


def test_make_batches_batches_differ_from_each_other():
    X, _ = make_batches(5, 10, generator=0)
    assert all(not torch.equal(X[0], X[t]) for t in range(1, 5))


def test_make_batches_is_reproducible():
    a = make_batches(4, 6, generator=9)
    b = make_batches(4, 6, generator=9)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize(("T", "B"), [(0, 4), (-1, 4), (2.0, 4), (True, 4)])
def test_make_batches_rejects_bad_T(T, B):
    with pytest.raises(ValueError, match=re.escape("T (number of batches) must be")) as e:
        make_batches(T, B)
    assert repr(T) in str(e.value)


@pytest.mark.parametrize(("B", "error"), [(3, ValueError), (0, ValueError), (4.0, TypeError)])
def test_make_batches_rejects_bad_B(B, error):
    with pytest.raises(error, match="B must be a positive even integer"):
        make_batches(2, B)


# ---------------------------------------------------------------- every distinct set


def enumerate_sets(n: int) -> list[tuple[tuple[float, ...], int]]:
    """An independent enumeration: itertools picks the nonzero positions of each class."""
    sets = []
    for label, count, value in ((0, 3, THIRD.item()), (1, 5, FIFTH.item())):
        for chosen in itertools.combinations(range(n), count):
            sets.append((tuple(value if i in chosen else 0.0 for i in range(n)), label))
    return sets


@pytest.mark.parametrize("n", [5, 6, 10, 12])
def test_all_sets_are_every_distinct_set_once(n):
    X, y = all_sets(n)
    assert X.shape == (math.comb(n, 3) + math.comb(n, 5), n, 1) and y.shape == (X.shape[0], 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    got = [(tuple(x), int(c)) for x, c in zip(X[:, :, 0].tolist(), y[:, 0].tolist(), strict=True)]
    assert len(set(got)) == len(got), "a set appears twice"
    assert sorted(got) == sorted(enumerate_sets(n))
    assert y[:, 0].tolist() == [0.0] * math.comb(n, 3) + [1.0] * math.comb(n, 5)


def test_ten_objects_give_372_sets_120_of_class_0():
    X, y = all_sets()
    assert X.shape == (372, 10, 1) and int((y == 0).sum()) == 120 and int(y.sum()) == 252


def test_all_sets_hold_exactly_the_values_make_data_draws():
    X, y = make_data(2000, generator=3)  # 2000 draws of 372 sets: some repeat, all are known
    known = {tuple(x) for x in all_sets()[0][:, :, 0].tolist()}
    assert {tuple(x) for x in X[:, :, 0].tolist()} <= known


@pytest.mark.parametrize(
    "bad, error, match",
    [(4, ValueError, "at least 5"), (21, ValueError, "at most 20"), (10.0, TypeError, "n_objects")],
)
def test_all_sets_refuses_bad_sizes_by_name(bad, error, match):
    with pytest.raises(error, match=match):
        all_sets(bad)


def test_every_arrangement_of_ten_objects_is_equally_likely():
    """The table path: each of the C(10, 3) = 120 and C(10, 5) = 252 arrangements, uniformly."""
    X, y = make_data(200_000, generator=11)
    crit = {119: 207.5, 251: 372.4}  # chi-square at p = 1e-6 (Wilson-Hilferty, conservative)
    for label, count in ((0, 3), (1, 5)):
        nonzero = X[y[:, 0] == label, :, 0] != 0  # (N/2, 10)
        codes = (nonzero.long() * 2 ** torch.arange(10)).sum(dim=1)  # (N/2,) one code per set
        seen = torch.bincount(codes, minlength=1024).numpy()
        valid = [sum(2**i for i in c) for c in itertools.combinations(range(10), count)]
        assert seen[valid].sum() == len(codes)  # nothing outside the class's arrangements
        assert chi_square(seen[valid], len(codes) / len(valid)) < crit[len(valid) - 1]


def test_positions_are_uniform_for_sets_too_large_for_the_table():
    n = data.TABLE_OBJECTS + 1  # drawn by ranking uniform keys
    X, y = make_data(20_000, n_objects=n, generator=5)
    for label, count in ((0, 3), (1, 5)):
        per_position = (X[y[:, 0] == label, :, 0] != 0).numpy().sum(axis=0)  # (n,)
        assert chi_square(per_position, 10_000 * count / n) < 59.2  # 16 dof, p = 1e-6
