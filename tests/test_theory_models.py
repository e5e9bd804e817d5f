"""Smooth poolings against plain loops; invariance (hypothesis, masks, empty sets) of the smooth-max
DeepSet; equivariance of the per-object and PermEquivariant networks; the increasing phi."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepsets.models.deepset import DeepSet
from deepsets.studies.theory.models import (
    EquivariantNet,
    PerElementNet,
    SmoothMaxDeepSet,
    logsumexp_pool,
    make_phi_increasing,
    power_mean_pool,
)

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def batches(draw, max_sets=4, max_objects=7, max_latent=3):
    """h (B, N, L) float64 and a mask (B, N) with a random pattern of real objects (some empty)."""
    B, N = draw(st.integers(1, max_sets)), draw(st.integers(1, max_objects))
    L = draw(st.integers(1, max_latent))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    h = torch.randn(B, N, L, generator=g, dtype=torch.float64) * 2  # (B, N, L)
    mask = torch.rand(B, N, generator=g) < draw(st.floats(0.0, 1.0))  # (B, N)
    return h, mask


def reduce_loop(h, mask, f):
    """f over each set's real values, per feature, in plain Python; 0 for an empty set."""
    B, N, L = h.shape
    return torch.tensor(
        [
            [
                f(vals) if (vals := [float(h[b, i, j]) for i in range(N) if mask[b, i]]) else 0.0
                for j in range(L)
            ]
            for b in range(B)
        ],
        dtype=torch.float64,
    )


@SETTINGS
@given(data=batches(), t=st.floats(0.1, 3.0))
def test_logsumexp_pool_matches_a_plain_loop(data, t):
    h, mask = data
    expected = reduce_loop(h, mask, lambda v: t * math.log(math.fsum(math.exp(x / t) for x in v)))
    torch.testing.assert_close(logsumexp_pool(h, mask, t), expected)


@SETTINGS
@given(data=batches(), p=st.floats(1.0, 6.0))
def test_power_mean_pool_matches_a_plain_loop(data, p):
    h, mask = data
    h = h.abs() + 0.1  # the power mean is for positive values
    expected = reduce_loop(h, mask, lambda v: (math.fsum(x**p for x in v) / len(v)) ** (1 / p))
    torch.testing.assert_close(power_mean_pool(h, mask, p), expected)


def test_smooth_pools_approach_the_max_and_give_every_object_a_gradient():
    h = torch.tensor([[[0.1], [0.5], [0.3]]], requires_grad=True)  # (1, 3, 1)
    with torch.no_grad():
        assert abs(float(logsumexp_pool(h, None, 0.01)) - 0.5) < 0.01
        assert abs(float(power_mean_pool(h, None, 60.0)) - 0.5) < 0.02
    (g,) = torch.autograd.grad(logsumexp_pool(h, None, 1.0).sum(), h)
    assert bool((g > 0).all())  # the max's gradient would reach only the object at 0.5


@pytest.mark.parametrize("pool", [logsumexp_pool, power_mean_pool])
def test_empty_sets_pool_to_zero_with_finite_gradients(pool):
    h = torch.rand(2, 4, 3, requires_grad=True)
    mask = torch.tensor([[False] * 4, [True, False, True, False]])
    out = pool(h, mask, 2.0)  # (2, 3)
    assert torch.equal(out[0], torch.zeros(3))
    (g,) = torch.autograd.grad(out.sum(), h)
    assert bool(torch.isfinite(g).all()) and torch.equal(g[0], torch.zeros(4, 3))
    assert torch.equal(g[1, 1], torch.zeros(3))  # padding gets no gradient


@pytest.mark.parametrize("smooth", ["logsumexp", "powermean"])
@SETTINGS
@given(data=batches(max_latent=1), seed=st.integers(0, 2**31 - 1))
def test_smooth_max_deepset_is_invariant_to_permutations_and_padding(smooth, data, seed):
    h, mask = data  # h as the objects' features (B, N, 1)
    X = h.float()
    model = SmoothMaxDeepSet(smooth, 2.0, hidden=4, latent=2, generator=seed % 1000)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(X.shape[1], generator=g)
    with torch.no_grad():
        out = model(X, mask)  # (B, 1)
        torch.testing.assert_close(model(X[:, order], mask[:, order]), out)
        noise = torch.randn(X.shape, generator=g) * 100  # padding holds anything
        torch.testing.assert_close(model(torch.where(mask.unsqueeze(-1), X, noise), mask), out)
        empty = ~mask.any(dim=1)  # (B,)
        rho_at_zero = model.rho(torch.zeros(1, 2))  # (1, 1): an empty set pools to 0
        torch.testing.assert_close(out[empty], rho_at_zero.expand(int(empty.sum()), 1))


@SETTINGS
@given(data=batches(max_latent=1), seed=st.integers(0, 1000))
def test_the_per_object_and_equivariant_networks_are_equivariant(data, seed):
    h, mask = data
    X = h.float()
    order = torch.randperm(X.shape[1], generator=torch.Generator().manual_seed(seed))
    for net in (PerElementNet(4, generator=seed), EquivariantNet(4, 3, generator=seed)):
        with torch.no_grad():
            out = net(X, mask)  # (B, N)
            torch.testing.assert_close(net(X[:, order], mask[:, order]), out[:, order])


def test_the_per_object_network_ignores_the_other_objects():
    net = PerElementNet(4, generator=0)
    X = torch.randn(1, 5, 1)
    Y = X.clone()
    Y[0, 1:] = torch.randn(4, 1) * 10
    with torch.no_grad():
        assert float(net(X)[0, 0]) == float(net(Y)[0, 0])


def test_seeded_equivariant_networks_are_reproducible():
    a, b = EquivariantNet(4, 2, generator=3), EquivariantNet(4, 2, generator=3)
    c = EquivariantNet(4, 2, generator=4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


@pytest.mark.parametrize("seed", range(5))
def test_make_phi_increasing_orders_phi_at_0_one_fifth_and_one_third(seed):
    model = make_phi_increasing(DeepSet(pooling="max", generator=seed))
    x = torch.linspace(0, 1, 101).view(1, -1, 1)
    with torch.no_grad():
        phi = model.phi(x)[0, :, 0]  # (101,)
    assert bool((phi[1:] > phi[:-1]).all())


def test_bad_smooth_max_arguments_are_refused():
    with pytest.raises(ValueError, match="smooth"):
        SmoothMaxDeepSet("softmax")
    with pytest.raises(ValueError, match="sharpness"):
        SmoothMaxDeepSet("powermean", 0.5)
    with pytest.raises(TypeError, match="DeepSet"):
        make_phi_increasing(DeepSet(in_features=2))
