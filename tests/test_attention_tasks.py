"""The Set Transformer's benchmarks: max regression, mixture-of-Gaussians sets, their oracle
log-likelihood (against scipy) and the mixture NLL loss (its gradient against float64 finite
differences, and trained through the engine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch.nn import functional as F

from deepsets.engine.losses import LOSSES, register_loss
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.models.set_transformer import Layers, SetModel
from deepsets.studies.attention.tasks import (
    MIXTURE_OUTPUTS,
    SIGMA_FLOOR,
    MixtureSets,
    max_regression,
    mixture_nll,
    mixture_parameters,
    mixture_sets,
    oracle_log_likelihood,
)


def test_max_regression_targets_are_the_maxima_of_the_real_elements():
    X, mask, y = max_regression(500, (1, 10), generator=0)
    assert X.shape == (500, 10, 1) and mask.shape == (500, 10) and y.shape == (500, 1)
    n = mask.sum(1)
    assert n.min() == 1 and n.max() == 10
    assert bool(((X >= 0) & (X < 100)).all()) and bool((X[~mask] == 0).all())
    for b in range(500):
        real = [float(X[b, i, 0]) for i in range(10) if mask[b, i]]
        assert float(y[b, 0]) == max(real)  # exact: the very same float32 values
    assert set(n.tolist()) == set(range(1, 11))  # every size appears


def test_max_regression_values_are_uniform_on_their_range():
    X, mask, _ = max_regression(4000, (10, 10), high=50.0, generator=1)
    x = X[mask].numpy()  # 40,000 draws of U[0, 50): mean 25, sd 50 / sqrt(12)
    assert abs(x.mean() - 25) < 5 * (50 / 12**0.5) / 200
    assert x.max() < 50


def test_mixture_sets_are_seeded_padded_and_hold_their_true_parameters():
    a, b = mixture_sets(40, generator=3), mixture_sets(40, generator=3)
    for f in ("points", "mask", "pi", "mu", "sigma"):
        assert torch.equal(getattr(a, f), getattr(b, f))
    assert not torch.equal(a.points, mixture_sets(40, generator=4).points)
    assert a.points.shape == (40, 500, 2) and a.mask.shape == (40, 500)
    n = a.mask.sum(1)
    assert n.min() >= 100 and n.max() <= 500
    assert bool((a.points[~a.mask] == 0).all())
    torch.testing.assert_close(a.pi.sum(1), torch.ones(40))
    assert bool((a.mu.abs() <= 4).all()) and bool((a.sigma == 0.3).all())
    assert torch.equal(a.targets[..., :2], a.points)
    assert torch.equal(a.targets[..., 2] > 0.5, a.mask)


def test_mixture_points_follow_their_components():
    """Every point lies near one of its set's means, and the pooled standardised distances to
    the nearest mean have the spread of 0.3 (Monte Carlo, 4e5 points)."""
    s = mixture_sets(1000, (400, 400), components=1, generator=5)
    z = (s.points - s.mu) / 0.3  # (B, N, 2): one component, so every point is its own
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01


def test_mixture_weights_are_dirichlet_one():
    pi = mixture_sets(20000, (1, 1), components=4, generator=6).pi  # Dir(1): E = 1/4, var = 3/80
    assert abs(float(pi.mean()) - 0.25) < 0.01
    assert abs(float(pi.var()) - 3 / 80) < 0.002


def scipy_log_likelihood(sets: MixtureSets, b: int) -> float:
    """Set b's mean log-likelihood per point, each component's logpdf from scipy, float64."""
    x = sets.points[b][sets.mask[b]].double().numpy()  # (n, 2)
    terms = [
        np.log(float(sets.pi[b, k]))
        + multivariate_normal(sets.mu[b, k].double().numpy(), float(sets.sigma[b, k]) ** 2).logpdf(
            x
        )
        for k in range(sets.pi.shape[1])
    ]  # K arrays (n,)
    return float(logsumexp(np.stack(terms), axis=0).mean())


def test_oracle_log_likelihood_matches_scipy():
    s = mixture_sets(12, (0, 60), generator=7)  # includes empty sets
    ll = oracle_log_likelihood(s)
    assert ll.dtype == torch.float64 and ll.shape == (12,)
    for b in range(12):
        expected = scipy_log_likelihood(s, b) if s.mask[b].any() else 0.0
        assert float(ll[b]) == pytest.approx(expected, abs=1e-9)


def test_oracle_log_likelihood_is_the_papers_value():
    """The paper's oracle, -1.4726, is a sample mean too: ours over 20,000 sets lies within
    0.02 of it (the sample sd of a set's value is about 0.5, so the standard error is 0.004)."""
    ll = oracle_log_likelihood(mixture_sets(20000, (20, 20), generator=8))
    assert float(ll.mean()) == pytest.approx(-1.4726, abs=0.02)


def test_log_likelihood_is_stable_far_from_every_component():
    s = mixture_sets(2, (5, 5), generator=9)
    far = MixtureSets(s.points + 1e3, s.mask, s.pi, s.mu, s.sigma)  # exp underflows: -5e6
    ll = oracle_log_likelihood(far)
    assert torch.isfinite(ll).all() and bool((ll < -1e6).all())
    b = 0
    assert float(ll[b]) == pytest.approx(scipy_log_likelihood(far, b), rel=1e-9)


def test_mixture_nll_is_the_negative_log_likelihood_of_the_predicted_mixture():
    s = mixture_sets(6, (0, 30), generator=10)
    p = torch.randn(6, 4, MIXTURE_OUTPUTS, dtype=torch.float64)
    log_pi, mu, sigma = mixture_parameters(p)
    torch.testing.assert_close(log_pi.exp().sum(-1), torch.ones(6, dtype=torch.float64))
    assert bool((sigma > SIGMA_FLOOR).all())
    as_truth = MixtureSets(s.points, s.mask, log_pi.exp(), mu, sigma)
    expected = torch.tensor(
        [-scipy_log_likelihood(as_truth, b) if s.mask[b].any() else 0.0 for b in range(6)],
        dtype=torch.float64,
    )
    got = mixture_nll(p, s.targets.double(), reduction="none")
    torch.testing.assert_close(got, expected, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(mixture_nll(p, s.targets.double()), expected.mean())
    # (K, B, ...) as the engine passes them: one number per model and set
    stacked = mixture_nll(p.expand(3, -1, -1, -1), s.targets.double().expand(3, -1, -1, -1), "none")
    torch.testing.assert_close(stacked, expected.expand(3, -1))


def test_mixture_nll_gradient_matches_finite_differences():
    s = mixture_sets(3, (5, 12), generator=11)
    y = s.targets.double()
    p = torch.randn(3, 4, MIXTURE_OUTPUTS, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: mixture_nll(q, y), (p,), eps=1e-6, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), extra=st.integers(1, 20))
def test_mixture_nll_ignores_padding_and_the_order_of_points(seed, extra):
    s = mixture_sets(4, (0, 10), generator=seed)
    p = torch.randn(4, 4, MIXTURE_OUTPUTS, generator=torch.Generator().manual_seed(seed))
    y = s.targets
    junk = torch.cat([torch.full((4, extra, 2), 1e4), torch.zeros(4, extra, 1)], -1)
    order = torch.randperm(y.shape[1], generator=torch.Generator().manual_seed(seed + 1))
    base = mixture_nll(p, y, "none")
    assert torch.isfinite(base).all()
    torch.testing.assert_close(mixture_nll(p, torch.cat([y, junk], 1), "none"), base)
    torch.testing.assert_close(mixture_nll(p, y[:, order], "none"), base)


def test_the_engine_trains_a_set_transformer_on_the_mixture_nll():
    """train_on with loss="mixture_nll" and output=(4, 4): the loss it records is mixture_nll
    of the model's outputs, and training lowers it."""
    s = mixture_sets(64, (20, 40), generator=12)
    model = SetModel(
        2,
        MIXTURE_OUTPUTS,
        encoder="isab",
        pooling="pma",
        seeds=4,
        layers=Layers(dim=16, heads=2, blocks=1, inducing=4),
        generator=0,
    )
    with torch.no_grad():
        before = float(mixture_nll(model(s.points, s.mask), s.targets))
    _, losses = train_on([model], (s.points, s.targets, s.mask), 60, loss="mixture_nll", lr=1e-2,
        engine=Engine(progress=False))
    assert losses.shape == (1, 60) and losses[0, 0] == pytest.approx(before, rel=1e-5)
    with torch.no_grad():
        after = float(mixture_nll(model(s.points, s.mask), s.targets))
    assert after < before - 0.5


def test_the_study_registers_mixture_nll_with_the_engine_once():
    """The engine imports no task: the study adds its loss by name, and a second, different
    loss under that name is refused."""
    assert LOSSES["mixture_nll"] is mixture_nll
    register_loss("mixture_nll", mixture_nll)  # the same again: nothing changes
    with pytest.raises(ValueError, match="'mixture_nll'"):
        register_loss("mixture_nll", F.mse_loss)
    assert LOSSES["mixture_nll"] is mixture_nll


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: max_regression(0, generator=0), ValueError, "n_sets"),
        (lambda: max_regression(5, (0, 3), generator=0), ValueError, "no maximum"),
        (lambda: max_regression(5, (4, 3), generator=0), ValueError, "lo <= hi"),
        (lambda: max_regression(5, high=-1.0, generator=0), ValueError, "high"),
        (lambda: max_regression(5, generator="a"), TypeError, "generator"),
        (lambda: mixture_sets(5, components=0, generator=0), ValueError, "components"),
        (lambda: mixture_sets(5, (10,), generator=0), ValueError, "sizes"),
        (lambda: oracle_log_likelihood(torch.zeros(3)), TypeError, "MixtureSets"),
        (lambda: mixture_nll(torch.zeros(2, 4, 3), torch.zeros(2, 5, 3)), ValueError, r"K, 4"),
        (lambda: mixture_nll(torch.zeros(2, 4, 4), torch.zeros(2, 5, 2)), ValueError, "mask"),
        (lambda: mixture_nll(torch.zeros(3, 4, 4), torch.zeros(2, 5, 3)), ValueError, "same sets"),
        (
            lambda: mixture_nll(torch.zeros(2, 4, 4), torch.zeros(2, 5, 3), "max"),
            ValueError,
            "reduction",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_train_on_refuses_a_model_whose_outputs_the_loss_cannot_take():
    s = mixture_sets(8, (5, 9), generator=13)
    model = SetModel(2, 3, seeds=4, layers=Layers(8, 2, 1), generator=0)  # (B, 4, 3)
    before = [p.detach().clone() for p in model.parameters()]
    match = r"models\[0\]'s outputs \(2, 4, 3\) do not fit loss='mixture_nll'"
    with pytest.raises(ValueError, match=match):
        train_on([model], (s.points, s.targets, s.mask), 5, loss="mixture_nll",
                 engine=Engine(progress=False))  # fmt: skip
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
