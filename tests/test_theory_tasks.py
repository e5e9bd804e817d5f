"""The theory study's task generators against independent computations (numpy, plain loops)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from deepsets.data import make_data
from deepsets.models.pooling import pool
from deepsets.studies.theory import tasks


def real_values(X: torch.Tensor, mask: torch.Tensor) -> list[list[float]]:
    """Each set's real objects, as plain lists."""
    return [
        [v for v, m in zip(x, row, strict=True) if m]
        for x, row in zip(X[..., 0].tolist(), mask.tolist(), strict=True)
    ]


@pytest.mark.parametrize("N", [1, 2, 3, 4, 7, 16])
def test_median_sets_label_each_set_with_numpys_median(N):
    X, mask, y = tasks.median_sets(300, N, generator=1)
    assert X.shape == (300, N, 1) and y.shape == (300, 1) and bool(mask.all())
    expected = np.median(X[..., 0].numpy().astype(np.float64), axis=1)
    np.testing.assert_allclose(y[:, 0].numpy(), expected, rtol=0, atol=1e-6)
    assert float(X.min()) >= -1 and float(X.max()) < 1


def test_mean_sets_label_each_set_with_its_mean():
    X, mask, y = tasks.mean_sets(200, 9, generator=2)
    expected = [math.fsum(row) / 9 for row in X[..., 0].tolist()]
    np.testing.assert_allclose(y[:, 0].numpy(), expected, atol=1e-6)
    assert bool(mask.all())


def test_the_same_seed_gives_the_same_sets_and_another_seed_others():
    a, b = tasks.median_sets(50, 5, generator=7), tasks.median_sets(50, 5, generator=7)
    c = tasks.median_sets(50, 5, generator=8)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_multiplicity_sets_every_value_occurs_m_times_and_the_label_is_m_at_least_3():
    X, mask, y = tasks.multiplicity_sets(500, generator=3)
    assert X.shape == (500, 12, 1) and mask.shape == (500, 12)
    assert bool((X[..., 0][~mask] == 0).all())  # padding is zero
    symbols = set(tasks.symbol_values(4).tolist())
    for values, label in zip(real_values(X, mask), y[:, 0].tolist(), strict=True):
        counts = Counter(values)
        assert set(counts) <= symbols and 1 <= len(counts) <= 3
        assert len(set(counts.values())) == 1  # every distinct value equally often
        assert label == float(max(counts.values()) >= 3)
    assert 0.45 < float(y.mean()) < 0.55  # m uniform on 1..4: half the sets have m >= 3


def test_multiplicity_sets_objects_are_shuffled_within_a_set():
    X, mask, _ = tasks.multiplicity_sets(400, generator=4)
    first = [v[0] for v in real_values(X, mask)]
    runs = [v for v in real_values(X, mask) if len(set(v)) > 1]
    # with equal blocks left in order, the first object would always be the block's symbol
    assert any(v[0] != v[1] for v in runs) and len(set(first)) > 1


def test_mean_and_max_merge_each_colliding_pair_and_sum_tells_them_apart():
    torch.manual_seed(0)
    phi = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 4))
    for pair in tasks.colliding_pairs():
        a, b = (torch.tensor(v).view(1, -1, 1) for v in (pair.a, pair.b))
        label = [float(max(Counter(v).values()) >= 3) for v in (pair.a, pair.b)]
        assert label == [0.0, 1.0]
        with torch.no_grad():
            for kind in pair.merged_by:
                torch.testing.assert_close(pool(phi(a), None, kind), pool(phi(b), None, kind))
            assert not torch.allclose(pool(phi(a), None, "sum"), pool(phi(b), None, "sum"))


def test_above_mean_sets_label_each_object_against_its_sets_mean():
    X, mask, y = tasks.above_mean_sets(100, 6, spread=2.0, generator=5)
    x = X[..., 0].numpy().astype(np.float64)
    expected = x > x.mean(axis=1, keepdims=True)
    assert y.shape == (100, 6) and bool(mask.all())
    np.testing.assert_array_equal(y.numpy().astype(bool), expected)


@pytest.mark.parametrize(("N", "spread"), [(10, 2.0), (4, 0.5), (20, 5.0)])
def test_the_per_element_ceiling_matches_a_monte_carlo_of_the_best_rule(N, spread):
    rng = np.random.default_rng(0)
    c = spread * rng.standard_normal((100_000, 1))
    x = c + rng.standard_normal((100_000, N))
    y = x > x.mean(axis=1, keepdims=True)
    sign_rule = float(((x > 0) == y).mean())
    assert abs(sign_rule - tasks.per_element_ceiling(N, spread)) < 0.004
    for t in (-0.5 * x.std(), 0.5 * x.std()):  # another threshold on x_i alone does worse
        assert float(((x > t) == y).mean()) < sign_rule


def test_exercise_sets_are_make_data_with_a_full_mask():
    X, mask, y = tasks.exercise_sets(40, generator=9)
    X0, y0 = make_data(40, generator=9)
    assert torch.equal(X, X0) and torch.equal(y, y0) and bool(mask.all())


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda: tasks.median_sets(0, 3), ValueError, "B"),
        (lambda: tasks.mean_sets(3, 0), ValueError, "N"),
        (lambda: tasks.above_mean_sets(3, 1), ValueError, "N must be at least 2"),
        (lambda: tasks.above_mean_sets(3, 4, spread=-1.0), ValueError, "spread"),
        (lambda: tasks.multiplicity_sets(3, threshold=5), ValueError, "threshold"),
        (lambda: tasks.multiplicity_sets(3, max_distinct=5), ValueError, "max_distinct"),
        (lambda: tasks.median_sets(3, 3, generator="x"), TypeError, "generator"),
        (lambda: tasks.per_element_ceiling(1), ValueError, "N"),
    ],
)
def test_bad_arguments_are_refused_naming_them(call, error, named):
    with pytest.raises(error, match=named):
        call()
