"""A DeepSet of the user's own phi and rho: invariant (with masks and empty sets), counted,
checked, trained (stacked when its modules are Linear layers and activations, else alone
through autograd) and compared with a plain computation of rho(pool phi)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepsets import DeepSet, check_invariance, count_params, make_data, train, train_on
from deepsets.engine.families import ModuleStack, StackedDeepSet, stack_models
from deepsets.engine.settings import Engine
from deepsets.models.seeding import seeded_init


class Attend(nn.Module):
    """A phi no stack knows: each object scaled by a learned gate, (B, N, F) -> (B, N, L)."""

    def __init__(self, F: int, L: int) -> None:
        super().__init__()
        self.value, self.gate = nn.Linear(F, L), nn.Linear(F, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x))  # (B, N, L)


def layered(seed: int, pooling: str = "sum") -> DeepSet:
    """phi and rho as nn.Sequentials of Linear layers and activations: stackable."""
    with seeded_init(seed):  # the user's modules, seeded where they are built
        phi = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
        rho = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    return DeepSet(phi=phi, rho=rho, pooling=pooling)


def custom(seed: int, pooling: str = "sum") -> DeepSet:
    with seeded_init(seed):
        phi, rho = Attend(2, 3), nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    return DeepSet(phi=phi, rho=rho, pooling=pooling)


def sets(seed: int, B: int = 6, N: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(B, N, 2, generator=g)  # (B, N, F)
    mask = torch.rand(B, N, generator=g) < 0.6
    mask[0] = False  # an empty set
    return X, mask


@pytest.mark.parametrize("make", [layered, custom])
@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
def test_the_output_is_rho_of_the_pooled_phi_over_the_real_objects(make, pooling):
    model = make(0, pooling)
    X, mask = sets(1)
    with torch.no_grad():
        out = model(X, mask)  # (B, 1)
        for b in range(X.shape[0]):
            h = model.phi(X[b, mask[b]])  # (n, L): a plain loop over the real objects
            if not len(h):
                z = torch.zeros(3)  # an empty set pools to 0
            else:
                z = {"sum": h.sum(0), "mean": h.mean(0), "max": h.max(0).values}[pooling]
            torch.testing.assert_close(out[b], model.rho(z), rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), B=st.integers(1, 5), N=st.integers(0, 6),
       pooling=st.sampled_from(["sum", "mean", "max"]), stacked=st.booleans())  # fmt: skip
def test_user_deepsets_are_invariant_with_masks_and_empty_sets(seed, B, N, pooling, stacked):
    model = (layered if stacked else custom)(seed % 7, pooling)
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(B, N, 2, generator=g)
    mask = torch.rand(B, N, generator=g) < 0.5
    order = torch.stack([torch.randperm(N, generator=g) for _ in range(B)]) if N else None
    with torch.no_grad():
        out = model(X, mask)
        if order is not None:
            rows = torch.arange(B).unsqueeze(1)
            torch.testing.assert_close(model(X[rows, order], mask[rows, order]), out,
                                       rtol=1e-5, atol=1e-6)  # fmt: skip
        padded = torch.cat([X, torch.full((B, 2, 2), 1e6)], 1)  # padding never counts
        torch.testing.assert_close(
            model(padded, torch.cat([mask, torch.zeros(B, 2, dtype=torch.bool)], 1)), out
        )
        torch.testing.assert_close(model(X[:, :0], mask[:, :0]), model.rho(torch.zeros(B, 3)))


def test_count_params_and_check_invariance_see_the_user_modules():
    model = custom(0)
    assert count_params(model) == (2 * 3 + 3) + (2 + 1) + (3 + 1)
    X = torch.rand(8, 5, 2)
    change = check_invariance({"user": model}, X, rng=0).max_change["user"]
    assert change < 1e-6


def test_layered_user_deepsets_are_stacked_as_their_own_forward():
    models = [layered(k) for k in range(3)] + [custom(3)]
    stacks = stack_models(models)
    assert [(type(s), ix) for s, ix in stacks] == [(StackedDeepSet, [0, 1, 2]), (ModuleStack, [3])]
    X, mask = sets(2)
    K = 3
    p = stacks[0][0].forward(iter(stacks[0][0].init()), X.expand(K, *X.shape),
                             mask.expand(K, *mask.shape))  # fmt: skip  # (K, B)
    for k in range(K):
        torch.testing.assert_close(p[k], models[k](X, mask)[:, 0], rtol=1e-6, atol=1e-6)


def test_a_rho_with_more_than_one_output_is_not_stacked():
    phi = nn.Sequential(nn.Linear(1, 4), nn.Tanh())
    model = DeepSet(phi=phi, rho=nn.Sequential(nn.Linear(4, 3)))
    assert StackedDeepSet.key(model) is None


@pytest.mark.parametrize("make", [layered, custom])
def test_train_and_train_on_train_a_user_deepset(make):
    """Two features per object (the second the first squared): the exercise's task."""
    model = make(0)
    X, y = make_data(400, generator=0)
    X2 = torch.cat([X, X**2], -1)
    before = torch.nn.functional.binary_cross_entropy(model(X2), y).item()
    _, losses = train_on([model], (X2, y), 300, lr=1e-2, engine=Engine(progress=False))
    assert losses.shape == (1, 300)
    after = torch.nn.functional.binary_cross_entropy(model(X2), y).item()
    assert after < before - 0.05
    with seeded_init(0):  # a seed that leaves the ln 2 plateau (seed 1 stays on it)
        phi = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 2))
        rho = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    _, curve = train(DeepSet(phi=phi, rho=rho), 400, lr=1e-2, seed=0, progress=False)
    assert curve.shape == (400,) and curve[-20:].mean() < 0.2 < curve[:20].mean()


@pytest.mark.parametrize("make", [layered, custom], ids=["layered", "custom"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_sets_of_another_dtype_than_the_user_modules_are_refused_naming_both(make, dtype):
    X = torch.rand(4, 5, 2, dtype=dtype)  # (B, N, F)
    with pytest.raises(TypeError, match=f"X of dtype torch.float32 like its weights, got {dtype}"):
        make(0)(X)
    with pytest.raises(TypeError, match=f"got {dtype}"):
        make(0)(X, torch.ones(4, 5, dtype=torch.bool))
    assert make(0).double()(X.double()).dtype == torch.float64  # one dtype: fine


def test_integer_tokens_into_an_embedding_phi_pass_the_dtype_check():
    phi = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(-2))  # (B, N, 1) tokens -> (B, N, 4)
    model = DeepSet(phi=phi, rho=nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    assert model(torch.randint(0, 10, (3, 5, 1))).shape == (3, 1)
