"""The SDM baseline: its RFF-MMD against the exact MMD, its fit against a direct solve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets.studies.popstats.sdm import SDM, exact_mmd2, rff_mmd2


def gaussian_sets(B: int, M: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sets of M samples of N(mu_b, 1) in one dimension, mu_b ~ U(-1, 1); targets mu_b."""
    g = torch.Generator().manual_seed(seed)
    mu = 2 * torch.rand(B, generator=g, dtype=torch.float64) - 1  # (B,)
    X = mu.view(B, 1, 1) + torch.randn(B, M, 1, generator=g, dtype=torch.float64)
    return X.float(), mu


@pytest.mark.parametrize("shift", [0.0, 0.5, 2.0])
def test_rff_mmd_matches_the_exact_mmd_within_its_monte_carlo_error(shift):
    # One kernel value from F features has standard deviation at most 1/sqrt(F) (each of its
    # F terms cos(.)cos(.) * 2 is bounded by 2 in magnitude and the terms' variance is <= 1/2..1);
    # MMD^2 combines three kernel means, so 6/sqrt(F) bounds its error with a wide margin.
    g = torch.Generator().manual_seed(1)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    Y = torch.randn(30, 3, generator=g, dtype=torch.float64) + shift
    exact = exact_mmd2(X, Y, 1.5)
    F = 2**15
    for seed in range(3):
        assert rff_mmd2(X, Y, 1.5, F, seed) == pytest.approx(exact, abs=6 / np.sqrt(F))
    if shift > 0:
        assert exact > 0.01  # a real difference, not two zeros


def test_exact_mmd_by_a_plain_loop():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(5, 2, generator=g, dtype=torch.float64)
    Y = torch.randn(4, 2, generator=g, dtype=torch.float64)

    def k(a, b):
        return float(torch.exp(-((a - b) ** 2).sum() / (2 * 0.7**2)))

    def mean_k(A, B):
        return sum(k(a, b) for a in A for b in B) / (len(A) * len(B))

    by_loop = mean_k(X, X) + mean_k(Y, Y) - 2 * mean_k(X, Y)
    assert exact_mmd2(X, Y, 0.7) == pytest.approx(by_loop, abs=1e-12)


def test_the_fitted_predictions_are_the_direct_solve_of_the_ridge_system():
    X, y = gaussian_sets(60, 20, seed=3)
    T, _ = gaussian_sets(15, 20, seed=4)
    m = SDM(64, bandwidths=(1.0,), widths=(1.0,), ridges=(0.01,), seed=5).fit(X, y)
    K = m.kernel(X)  # (60, 60)
    assert np.allclose(K, K.T) and np.allclose(np.diag(K), 1.0)
    a = np.linalg.solve(K + 0.01 * np.eye(60), y.numpy() - y.numpy().mean())
    expected = m.kernel(T) @ a + y.numpy().mean()
    np.testing.assert_allclose(m.predict(T), expected, rtol=0, atol=1e-8)


def test_the_fitted_kernel_is_the_rbf_of_the_exact_mmd_with_many_features():
    X, y = gaussian_sets(6, 25, seed=6)
    m = SDM(2**15, bandwidths=(1.0,), widths=(1.0,), ridges=(0.1,), seed=7).fit(X, y)
    s, w = m.bandwidth, m.width
    exact = np.array(
        [[np.exp(-exact_mmd2(a.double(), b.double(), s) / (2 * w * w)) for b in X] for a in X]
    )
    np.testing.assert_allclose(m.kernel(X), exact, atol=0.03)


def test_it_learns_a_set_statistic_it_can_see_the_mean_of_a_gaussian():
    X, y = gaussian_sets(300, 50, seed=8)
    T, t = gaussian_sets(200, 50, seed=9)
    m = SDM(128, seed=10).fit(X, y)
    mse = float(np.mean((m.predict(T) - t.numpy()) ** 2))
    # the sample mean alone has variance 1/50 = 0.02; predicting the mean scores Var(mu) = 1/3
    assert mse < 0.05
    assert min(c.mse for c in m.grid) == m.choice.mse and len(m.grid) == 3 * 3 * 6


def test_the_same_seed_gives_the_same_predictions_and_another_seed_others():
    X, y = gaussian_sets(50, 10, seed=11)
    a = SDM(32, seed=1).fit(X, y).predict(X[:5])
    b = SDM(32, seed=1).fit(X, y).predict(X[:5])
    c = SDM(32, seed=2).fit(X, y).predict(X[:5])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_masked_samples_do_not_change_the_embedding():
    X, y = gaussian_sets(20, 8, seed=12)
    padded = torch.cat([X, torch.full((20, 3, 1), 99.0)], 1)  # (20, 11, 1)
    mask = torch.arange(11) < 8
    m = SDM(32, bandwidths=(1.0,), widths=(1.0,), ridges=(0.1,)).fit(X, y)
    np.testing.assert_allclose(m.kernel(padded, mask.expand(20, 11)), m.kernel(X), atol=1e-12)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SDM(0), "features must be a positive integer"),
        (lambda: SDM(ridges=()), "must each hold at least one value"),
        (lambda: SDM(widths=(1.0, -1.0)), r"widths\[1\] must be a positive"),
        (lambda: SDM(validation=1.5), "validation must be a share"),
        (lambda: SDM(seed=-1), "seed must be an integer"),
        (lambda: SDM().fit(torch.zeros(4, 3), torch.zeros(4)), r"X must be a tensor of shape"),
        (lambda: SDM().fit(torch.zeros(4, 3, 1, dtype=torch.int64), torch.zeros(4)), "float"),
        (lambda: SDM().fit(torch.zeros(4, 3, 1), torch.zeros(5)), r"y must hold one target"),
        (lambda: SDM().fit(torch.zeros(2, 3, 1), torch.zeros(2)), "enough sets to hold out"),
        (
            lambda: SDM().fit(torch.zeros(9, 3, 1), torch.zeros(9), torch.zeros(9, 3, dtype=bool)),
            "at least one sample",
        ),
    ],
)
def test_bad_arguments_give_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_predicting_before_fitting_is_a_clear_error():
    with pytest.raises(RuntimeError, match="call fit"):
        SDM().predict(torch.zeros(2, 3, 1))
