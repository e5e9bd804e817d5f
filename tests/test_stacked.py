"""The stacked forms (engine/families) against their members, in float64.

Each case builds one stack of K models, and compares its losses and autograd's gradients of
them with each member's own loss and gradients through its own forward: the two share no code
but the members' weights (and `masked_pool`, which the pooling tests check against loops).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepsets.engine.families import StackedDeepSet, StackedMLP, layers, stack_models
from deepsets.engine.losses import LOSSES, per_model
from deepsets.models import DeepSet, Rho, activation, make_mlp

K, B, N = 3, 7, 6


def data(
    seed: int, n_objects: int = N, masked: bool = False, ties: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """X (K, B, N, 1), binary y (K, B), and a mask (K, B, N) with an empty set, or None."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(K, B, n_objects, 1, generator=g, dtype=torch.float64)
    if ties:  # many equal objects, as in the exercise's sets: max pooling shares its gradient
        X = torch.where(X < 0.6, torch.zeros_like(X), X.new_full((), 1 / 3))
    y = (torch.rand(K, B, generator=g) < 0.5).double()
    mask = None
    if masked:
        mask = torch.rand(K, B, n_objects, generator=g) < 0.7
        mask[:, 0] = False  # an empty set pools to 0
    return X, y, mask


def compare(models: list[nn.Module], loss: str, X: torch.Tensor, y: torch.Tensor,
            mask: torch.Tensor | None, stack: object = None) -> None:
    """The stack's losses and autograd gradients equal each member's own, through its own
    forward (the nn.Module a user wrote), to float64 rounding."""
    if stack is None:
        stack = one_stack(models)
    leaves = [t.clone().requires_grad_(True) for t in stack.init()]  # type: ignore[attr-defined]
    p = stack.forward(iter(leaves), X, mask)  # type: ignore[attr-defined]  # (K, B)
    per = per_model(loss)(p, y)  # (K,)
    stacked = torch.autograd.grad(per.sum(), leaves, allow_unused=True)
    for k, m in enumerate(models):
        own = LOSSES[loss](m(X[k], *(() if mask is None else (mask[k],)))[:, 0], y[k])
        params = list(m.parameters())
        grads = torch.autograd.grad(own, params, allow_unused=True)
        assert len(params) == len(stacked)
        torch.testing.assert_close(per[k], own, rtol=1e-12, atol=1e-14)
        for mine, theirs, w in zip(stacked, grads, params, strict=True):
            mine = torch.zeros_like(w) if mine is None else mine[k].reshape(w.shape)
            theirs = torch.zeros_like(w) if theirs is None else theirs
            torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-13)


def one_stack(models: list[nn.Module]) -> object:
    ((stack, _),) = stack_models(models)
    return stack


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", None])
def test_deepset_stack_is_its_members(pooling: str, masked: bool, activation: str | None) -> None:
    models = [
        DeepSet(4, activation, latent=3, pooling=pooling, generator=k).double() for k in range(K)
    ]
    assert isinstance(one_stack(models), StackedDeepSet)
    compare(models, "bce", *data(1, masked=masked, ties=pooling == "max"))


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_regression_deepset_stack_is_its_members(loss: str) -> None:
    models = [
        DeepSet(5, "tanh", latent=2, rho=Rho(output=None), generator=k).double() for k in range(K)
    ]
    X, _, mask = data(2, masked=True)
    y = torch.randn(K, B, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    compare(models, loss, X, y, mask)


def test_fast_tanh_in_the_stacked_forms_is_tanh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "FAST_TANH", True)
    monkeypatch.setattr(activation, "FAST_FROM", 1)  # every tanh: 2 sigmoid(2x) - 1
    models = [DeepSet(5, generator=k).double() for k in range(K)]
    stack = one_stack(models)
    assert any(type(op) is activation.Tanh for ops in stack.phi.ops for op in ops)  # type: ignore[attr-defined]
    compare(models, "bce", *data(4), stack=stack)


def test_a_deepset_on_sets_of_no_objects() -> None:
    models = [DeepSet(3, pooling="mean", generator=k).double() for k in range(K)]
    compare(models, "bce", *data(5, n_objects=0))


@pytest.mark.parametrize("activation", ["relu", "tanh", None])
@pytest.mark.parametrize("hidden", [(3,), (9, 20), (40, 2, 5)])
def test_mlp_stack_is_its_members(activation: str | None, hidden: tuple[int, ...]) -> None:
    models = [make_mlp(hidden, activation, n_objects=N, generator=k).double() for k in range(K)]
    assert isinstance(one_stack(models), StackedMLP)
    compare(models, "bce", *data(6))


def test_the_comparison_can_fail() -> None:
    """A stack that pools otherwise than its members is caught."""
    models = [DeepSet(4, generator=k).double() for k in range(K)]
    stack = one_stack(models)
    stack.pooling = "mean"  # type: ignore[attr-defined]  # the members sum
    with pytest.raises(AssertionError, match="not close"):
        compare(models, "bce", *data(7), stack=stack)


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    b=st.integers(1, 6),
    n=st.integers(0, 7),
    hidden=st.integers(1, 6),
    latent=st.integers(1, 3),
    pooling=st.sampled_from(["sum", "mean", "max"]),
    activation=st.sampled_from(["tanh", "relu", "sigmoid", None]),
    masked=st.booleans(),
    regression=st.sampled_from([None, "mse", "mae"]),
    seed=st.integers(0, 2**16),
)
def test_any_deepset_stack_is_its_members(
    k, b, n, hidden, latent, pooling, activation, masked, regression, seed
):
    """Stacks of any size, sets of any size (none included), masks with empty sets, every
    pooling, activation and loss: the stack's losses and gradients are the members' own."""
    output = None if regression else "sigmoid"
    models = [
        DeepSet(
            hidden, activation, latent=latent, pooling=pooling, rho=Rho(output=output),
            generator=seed + i,
        ).double()
        for i in range(k)
    ]
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(k, b, n, 1, generator=g, dtype=torch.float64)
    X = torch.where(X < 0.5, torch.zeros_like(X), X)  # ties, as in the exercise's sets
    mask = (torch.rand(k, b, n, generator=g) < 0.6) if masked else None
    if regression:
        y = torch.randn(k, b, generator=g, dtype=torch.float64)
    else:
        y = (torch.rand(k, b, generator=g) < 0.5).double()
    compare(models, regression or "bce", X, y, mask)
