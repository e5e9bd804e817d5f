"""The population-statistics tasks against independent computations (scipy, numpy, Monte Carlo)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from deepsets.studies.popstats import tasks as ps
from deepsets.studies.popstats.tasks import population_sets


def entropy(cov: np.ndarray) -> float:
    """scipy's differential entropy of N(0, cov), in nats."""
    return float(multivariate_normal(mean=np.zeros(len(cov)), cov=cov).entropy())


def mutual_information(cov: np.ndarray, k: int) -> float:
    """I(x[:k]; x[k:]) = H(x[:k]) + H(x[k:]) - H(x), each entropy from scipy."""
    return entropy(cov[:k, :k]) + entropy(cov[k:, k:]) - entropy(cov)


@pytest.mark.parametrize("task", ps.TASKS)
def test_shapes_dtypes_and_that_targets_are_exact_to_1e_6(task):
    s = population_sets(task, 40, 16, generator=1)
    D = ps.DIMENSIONS[task]
    assert s.X.shape == (40, 16, D) and s.X.dtype == torch.float32
    assert s.y.shape == (40, 1) and s.y.dtype == torch.float64 and bool(s.mask.all())
    for cov, y, a in zip(
        s.covariance.numpy(), s.y[:, 0].tolist(), s.parameter.tolist(), strict=True
    ):
        if task == "rotation":
            assert y == pytest.approx(entropy(cov[:1, :1]), abs=1e-6)
            c, sn = math.cos(a), math.sin(a)
            R = np.array([[c, -sn], [sn, c]])
            np.testing.assert_allclose(cov, R @ ps.rotation_base().numpy() @ R.T, atol=1e-12)
            assert 0 <= a < math.pi
        elif task == "correlation":
            assert y == pytest.approx(mutual_information(cov, ps.HALF), abs=1e-6)
            assert -1 < a < 1
        else:
            assert y == pytest.approx(entropy(cov), abs=1e-6)
        if task == "rank1":
            v = ps.rank1_vector().numpy()
            np.testing.assert_allclose(cov, np.eye(32) + a * np.outer(v, v), atol=1e-12)
            assert 0 <= a < 1


def test_the_mutual_information_is_exact_near_the_ends_of_the_correlation():
    # scipy's entropies lose digits as the covariance becomes singular; the closed form does not
    S = ps.fixed_matrix(ps.HALF).numpy()
    for a in (0.0, 0.5, -0.9, 0.999):
        cov = np.block([[S, a * S], [a * S, S]])
        expected = -ps.HALF / 2 * math.log(1 - a * a)
        assert mutual_information(cov, ps.HALF) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("task", ps.TASKS)
def test_the_samples_covariance_matches_the_target_covariance_within_monte_carlo_error(task):
    # Pool 4000 samples of each of 4 sets: entry (i, j) of the sample covariance has standard
    # error sqrt((S_ii S_jj + S_ij^2) / n); every entry must be within 5 of them (about 1 in
    # 10^6 per entry by chance).
    s = population_sets(task, 4, 4000, generator=2)
    for X, cov in zip(s.X.double().numpy(), s.covariance.numpy(), strict=True):
        n = len(X)
        sample = X.T @ X / n  # the mean is known to be 0
        d = np.sqrt(np.diag(cov))
        se = np.sqrt((np.outer(d, d) ** 2 + cov**2) / n)
        assert np.abs(sample - cov).max() > 0  # not a copy
        assert (np.abs(sample - cov) <= 5 * se).all()


def test_the_sample_means_are_zero_within_monte_carlo_error():
    s = population_sets("random", 3, 5000, generator=3)
    for X, cov in zip(s.X.double().numpy(), s.covariance.numpy(), strict=True):
        se = np.sqrt(np.diag(cov) / len(X))
        assert (np.abs(X.mean(0)) <= 5 * se).all()


def test_the_parameters_spread_over_their_ranges():
    a = population_sets("correlation", 2000, 2, generator=4).parameter.numpy()
    assert -1 < a.min() < -0.95 and 0.95 < a.max() < 1 and abs(a.mean()) < 0.05
    r = population_sets("rotation", 2000, 2, generator=4).parameter.numpy()
    assert r.min() < 0.01 and r.max() > math.pi - 0.01 and abs(r.mean() - math.pi / 2) < 0.07


def test_random_covariances_are_fresh_per_set_and_fixed_ones_are_fixed():
    a, b = (population_sets("random", 2, 3, generator=5).covariance for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    c = population_sets("rank1", 2, 3, generator=6).covariance
    d = population_sets("rank1", 2, 3, generator=7).covariance
    assert not torch.equal(c, d)  # other l, the same v
    assert torch.allclose(c - torch.eye(32), ps.rank1_vector().outer(ps.rank1_vector()) * (
        c - torch.eye(32))[:, :1, :1] / ps.rank1_vector()[0] ** 2)  # fmt: skip
    assert float(ps.rank1_vector().norm()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("task", ps.TASKS)
def test_the_same_seed_gives_the_same_sets_and_another_seed_others(task):
    a, b = population_sets(task, 5, 7, generator=8), population_sets(task, 5, 7, generator=8)
    c = population_sets(task, 5, 7, generator=9)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, c.X) and not torch.equal(a.y, c.y)
    g = torch.Generator().manual_seed(8)
    assert torch.equal(population_sets(task, 5, 7, generator=g).X, a.X)


def test_chunked_draws_do_not_depend_on_the_number_of_sets_asked_for_beyond_the_chunk():
    # every set's samples are drawn after all parameters: the first sets of a larger draw differ,
    # but the same call is reproducible across the chunk boundary
    big = population_sets("rotation", ps.CHUNK_SETS + 5, 3, generator=10)
    again = population_sets("rotation", ps.CHUNK_SETS + 5, 3, generator=10)
    assert torch.equal(big.X, again.X) and big.X.shape == (ps.CHUNK_SETS + 5, 3, 2)
    assert bool((big.X[ps.CHUNK_SETS :] != 0).all())  # the last chunk is filled


def test_sets_of_varying_size_are_masked_and_zero_padded():
    s = population_sets("rank1", 300, sizes=(3, 9), generator=11)
    assert s.X.shape == (300, 9, 32) and s.mask.shape == (300, 9)
    n = s.mask.sum(1)
    assert int(n.min()) == 3 and int(n.max()) == 9
    assert bool((s.X[~s.mask] == 0).all()) and bool((s.X[s.mask] != 0).all())
    assert bool((s.mask[:, :-1] | ~s.mask[:, 1:]).all())  # real samples first


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(task="normal", n_sets=3), "task must be one of"),
        (dict(task="rank1", n_sets=0), "n_sets must be a positive integer"),
        (dict(task="rank1", n_sets=2.5), "n_sets must be a positive integer"),
        (dict(task="rank1", n_sets=3, samples=0), "samples must be a positive integer"),
        (dict(task="rank1", n_sets=3, sizes=(5, 2)), "sizes must satisfy"),
        (dict(task="rank1", n_sets=3, generator=-1), "generator must be an integer"),
        (dict(task="random", n_sets=2**40, samples=512), "would need about"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, match):
    kwargs.setdefault("generator", 0)
    with pytest.raises(ValueError, match=match):
        population_sets(**kwargs)


def test_a_generator_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="generator must be"):
        population_sets("rank1", 2, generator="0")  # type: ignore[arg-type]


def test_gaussian_entropy_matches_scipy_and_the_sum_of_log_variances_of_a_diagonal():
    variances = [1e-3, 1.0, 1e3]
    cov = torch.diag(torch.tensor(variances, dtype=torch.float64)).unsqueeze(0)
    by_hand = sum(0.5 * math.log(2 * math.pi * math.e * v) for v in variances)
    assert float(ps.gaussian_entropy(cov)[0]) == pytest.approx(by_hand, abs=1e-12)
    assert float(ps.gaussian_entropy(cov)[0]) == pytest.approx(entropy(cov[0].numpy()), abs=1e-9)
