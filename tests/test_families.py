"""The engine's families read the models' facts from one place: the stacked pooling is the
model's pooling (bitwise, masks and empty sets included), and every activation's table entry
(its fast form) is the module's own function."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from batches import batches
from hypothesis import given, settings
from hypothesis import strategies as st
from tied import TIED
from torch import nn
from torch.nn import functional as F

from deepsets.engine.families import ModuleStack, StackedDeepSet, cost, stack_models
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many
from deepsets.models import DeepSet, make_mlp
from deepsets.models.activation import ACTIVATIONS
from deepsets.models.pooling import masked_pool, pool


def stacked_pool(h: torch.Tensor, mask: torch.Tensor | None, kind: str) -> torch.Tensor:
    """h (K, L, B, N), mask (K, B, N) -> z (K, L, B), as StackedDeepSet.forward pools."""
    return masked_pool(h, None if mask is None else mask.unsqueeze(1), kind, dim=-1)[0]


@settings(max_examples=60, deadline=None)
@given(
    K=st.integers(1, 3), L=st.integers(1, 3), B=st.integers(1, 5), N=st.integers(0, 6),
    kind=st.sampled_from(["sum", "mean", "max"]), masked=st.booleans(),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_the_stacked_pooling_is_the_models_pooling_bit_for_bit(K, L, B, N, kind, masked, seed):
    """The engine pools h (K, L, B, N) as `pool` pools each member's (B, N, L), to the bit."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(K, L, B, N, generator=g)
    h = torch.where(h < 0, torch.zeros_like(h), h)  # ties, for max
    mask = None
    if masked:
        mask = torch.rand(K, B, N, generator=g) < 0.6
        mask[:, 0] = False  # an empty set
    z = stacked_pool(h, mask, kind)  # (K, L, B)
    for k in range(K):
        expected = pool(h[k].permute(1, 2, 0), None if mask is None else mask[k], kind)  # (B, L)
        assert torch.equal(z[k].T, expected), (k, kind)


def test_the_pooling_comparison_can_fail():
    h = torch.rand(1, 1, 2, 3)
    assert not torch.equal(stacked_pool(h, None, "mean")[0].T, pool(h[0].permute(1, 2, 0), None))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activations_fast_form_is_its_modules_function(name):
    a = ACTIVATIONS[name]
    z = torch.linspace(-4, 4, 50_001, dtype=torch.float64)  # above the fast threshold
    if a.fast is not None:
        torch.testing.assert_close(a.fast()(z), a.module()(z), rtol=0, atol=1e-15)


def test_one_mlp_stack_per_architecture():
    """MLPs stack with their own architecture only (no padding into a wider one)."""
    models = [make_mlp(9, "relu"), make_mlp(16, "relu"), make_mlp(9, "relu", generator=1)]
    assert [index for _, index in stack_models(models)] == [[0, 2], [1]]


def test_any_deepsets_cost_runs_phi_on_every_object():
    """The cost estimate (for sharing stacks out) of a DeepSet, stacked or not: phi on B * N
    objects, rho on the B sets, counted by hand for the exercise's network."""
    values, flops = cost(DeepSet(), 100, 10)
    assert values == 1000 * (5 + 5 + 1) + 100 * (5 + 1)
    assert flops == 2 * (1000 * (5 + 25 + 5) + 100 * (5 + 5))
    user = DeepSet(phi=nn.Sequential(nn.Linear(1, 5), nn.Tanh()), rho=nn.Linear(5, 1))
    assert cost(user, 100, 10) == (1000 * 5 + 100, 2 * (1000 * 5 + 100 * 5))
    assert StackedDeepSet.key(user) is None  # rho is not a Sequential: trained alone


def test_models_share_a_stack_only_if_they_compute_the_same_function():
    """An activation's options are part of a stack's key: a tanh-GELU model never trains with
    the exact GELU of another (nor a model of other layers)."""

    def mlp(act: nn.Module) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(10, 4), act, nn.Linear(4, 1), nn.Sigmoid())

    def user(act: nn.Module) -> nn.Module:
        phi = nn.Sequential(nn.Linear(1, 4), act, nn.Linear(4, 2))
        return DeepSet(phi=phi, rho=nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()))

    acts = [nn.GELU, lambda: nn.GELU(approximate="tanh"), nn.ReLU, lambda: nn.ReLU(inplace=True)]
    models = [make(act()) for make in (mlp, user) for act in acts for _ in range(2)]
    stacks = stack_models(models)
    for _, index in stacks:
        assert len({str(models[i]) for i in index}) == 1, [str(models[i]) for i in index]
    assert len(stacks) < len(models)  # the comparison can fail: some models do share


def plain_adam(model: nn.Module, steps: int, seed: int) -> list[float]:
    """The exercise's loop with torch.optim.Adam: each weight one tensor, however often used."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for X, y in batches(steps, 100, generator=seed):
        loss = F.binary_cross_entropy(model(X.double()), y.double())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", TIED)
def test_a_tied_model_trains_as_the_plain_loop_trains_it(name):
    """A weight used twice is one weight: the engine trains it as Adam on the model does (in
    float64 to 1e-12), never each use as its own copy."""
    model = TIED[name]().double()
    reference = copy.deepcopy(model)
    expected = plain_adam(reference, 200, seed=5)
    (trained,), losses = train_many([model], 200, seeds=[5], engine=Engine(progress=False))
    np.testing.assert_allclose(losses[0], expected, rtol=0, atol=1e-12)
    for (n, p), q in zip(trained.named_parameters(), reference.parameters(), strict=True):
        assert (p - q).abs().max() < 1e-12, n
    assert len(list(trained.parameters())) == len(list(reference.parameters()))  # still tied
    assert [type(s) for s, _ in stack_models([model])] == [ModuleStack]
