"""The paper's population-statistics DeepSet: its layers, invariance, masks, scales, training."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch import nn

from deepsets.engine.train import train_on
from deepsets.models.pooling import pool
from deepsets.studies.popstats.models import PopStatsDeepSet, whitening
from deepsets.studies.popstats.tasks import population_sets
from deepsets.training import count_params, predict


def test_the_layers_are_the_papers_code():
    m = PopStatsDeepSet(32, generator=0)
    widths = [
        (layer.in_features, layer.out_features) for layer in m.phi if isinstance(layer, nn.Linear)
    ]
    assert widths == [(32, 50), (50, 100), (100, 50)]
    widths = [
        (layer.in_features, layer.out_features) for layer in m.rho if isinstance(layer, nn.Linear)
    ]
    assert widths == [(50, 30), (30, 30), (30, 10), (10, 1)]
    assert sum(isinstance(layer, nn.ELU) for layer in [*m.phi, *m.rho]) == 2 + 3
    assert not isinstance(m.phi[-1], nn.ELU) and not isinstance(m.rho[-1], nn.ELU)
    assert count_params(m) == 33 * 50 + 51 * 100 + 101 * 50 + 51 * 30 + 31 * 30 + 31 * 10 + 11


def test_the_output_is_rho_of_the_mean_of_phi_rescaled_by_a_plain_computation():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(3, 3, generator=g)
    m = PopStatsDeepSet(3, generator=1, whiten=W, y_loc=2.0, y_scale=0.5)
    X = torch.randn(4, 7, 3, generator=g)
    by_hand = torch.stack([m.rho(torch.stack([m.phi(x @ W) for x in s]).mean(0)) for s in X])
    torch.testing.assert_close(m(X), 2.0 + 0.5 * by_hand, rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), M=st.integers(1, 12), D=st.sampled_from([2, 32]))
def test_invariant_to_permutations_of_the_samples(seed, M, D):
    g = torch.Generator().manual_seed(seed)
    m = PopStatsDeepSet(D, generator=seed)
    X = torch.randn(3, M, D, generator=g)
    perm = torch.randperm(M, generator=g)
    torch.testing.assert_close(m(X[:, perm]), m(X), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), M=st.integers(2, 10))
def test_padding_never_changes_the_output_and_masks_permute_with_the_samples(seed, M):
    g = torch.Generator().manual_seed(seed)
    m = PopStatsDeepSet(2, generator=seed)
    n = int(torch.randint(1, M + 1, (1,), generator=g))
    X = torch.randn(1, M, 2, generator=g)
    mask = torch.arange(M).unsqueeze(0) < n  # (1, M)
    junk = X.masked_fill(~mask.unsqueeze(-1), 1e3)  # other padding values
    torch.testing.assert_close(m(junk, mask), m(X[:, :n]), rtol=1e-5, atol=1e-5)
    perm = torch.randperm(M, generator=g)
    torch.testing.assert_close(m(junk[:, perm], mask[:, perm]), m(X[:, :n]), rtol=1e-5, atol=1e-5)


def test_an_empty_set_pools_to_zero():
    m = PopStatsDeepSet(2, generator=0)
    X, mask = torch.randn(2, 4, 2), torch.zeros(2, 4, dtype=torch.bool)
    expected = m.rho(pool(torch.zeros(2, 1, 50))).detach()
    torch.testing.assert_close(m(X, mask).detach(), expected)


def test_the_same_seed_gives_the_same_weights():
    a, b, c = (PopStatsDeepSet(5, generator=g) for g in (3, 3, 4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.phi[0].weight, c.phi[0].weight)


def test_whitening_makes_the_pooled_second_moment_the_identity():
    s = population_sets("random", 50, 40, generator=1)
    W = whitening(s.X)
    x = (s.X.double() @ W).reshape(-1, 32)
    np.testing.assert_allclose((x.T @ x / len(x)).numpy(), np.eye(32), atol=1e-8)
    np.testing.assert_allclose(W.numpy(), W.numpy().T, atol=1e-12)


def test_it_trains_with_the_engine_on_mse_then_l1_and_beats_the_mean():
    s = population_sets("rotation", 256, 64, generator=2)
    t = population_sets("rotation", 256, 64, generator=3)
    y = s.y.float()
    models = [PopStatsDeepSet(2, generator=k, whiten=whitening(s.X).float(), y_loc=float(y.mean()),
                               y_scale=float(y.std())) for k in range(2)]  # fmt: skip
    _, losses = train_on(models, (s.X, y), 200, loss="mse", batch_size=32, seeds=[0, 1])
    train_on(models, (s.X, y), 30, loss="mae", batch_size=32, lr=1e-4, seeds=[2, 3])
    assert losses.shape == (2, 200) and (losses[:, -20:].mean(1) < losses[:, :5].mean(1)).all()
    for m in models:
        mse = float(((predict(m, t.X).double() - t.y) ** 2).mean())
        assert mse < 0.3 * float(t.y.var())  # predicting the mean scores the variance


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: PopStatsDeepSet(0), "in_features must be a positive integer"),
        (lambda: PopStatsDeepSet(3, whiten=torch.eye(2)), r"whiten must be a finite \(3, 3\)"),
        (lambda: PopStatsDeepSet(3, y_scale=0.0), "y_scale must be a positive"),
        (lambda: PopStatsDeepSet(3, y_loc=float("nan")), "y_loc must be a finite"),
        (lambda: PopStatsDeepSet(3)(torch.zeros(2, 4, 2)), r"X must be a tensor of shape"),
        (lambda: whitening(torch.zeros(3, 4, 2)), "singular"),
    ],
)
def test_bad_arguments_give_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_it_is_a_module_the_engine_takes_with_a_mask():
    s = population_sets("rotation", 16, sizes=(2, 6), generator=4)
    model = PopStatsDeepSet(2, generator=0)
    (m,), losses = train_on([model], (s.X, s.y.float(), s.mask), 3, loss="mse")
    assert losses.shape == (1, 3) and np.isfinite(losses).all()
