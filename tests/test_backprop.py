"""The hand-written training steps (each family's `step`, engine/families) against autograd,
in float64.

Each case builds one stack, takes its hand-written step (losses, and gradients written into a
flat buffer), and compares them with autograd's gradients of the stack's own forward and the
loss, from the same weights and data: the two share no code but the stack's weights.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepsets.engine import loop
from deepsets.engine.families import StackedDeepSet, StackedMLP, stack_models
from deepsets.engine.losses import per_model
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


def compare(stack: object, loss: str, X: torch.Tensor, y: torch.Tensor, mask: object) -> None:
    """The hand-written step's losses and gradients equal autograd's to float64 rounding."""
    step = loop.hand_step(stack, loss)  # type: ignore[arg-type]
    assert step is not None
    inits = stack.init()  # type: ignore[attr-defined]
    grads = [torch.full_like(t, float("nan")) for t in inits]  # every entry must be written
    per = step(iter([t.clone() for t in inits]), iter(grads), X, y, mask)

    leaves = [t.clone().requires_grad_(True) for t in inits]
    p = stack.forward(iter(leaves), X, mask)  # type: ignore[attr-defined]
    expected = per_model(loss)(p, y)
    auto = torch.autograd.grad(expected.sum(), leaves, allow_unused=True)
    torch.testing.assert_close(per, expected.detach(), rtol=1e-12, atol=1e-14)
    for mine, theirs in zip(grads, auto, strict=True):
        theirs = torch.zeros_like(mine) if theirs is None else theirs
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-13)


def one_stack(models: list[nn.Module]) -> object:
    ((stack, _),) = stack_models([m.double() for m in models])
    return stack


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", None])
def test_deepset_step_is_autograds(pooling: str, masked: bool, activation: str | None) -> None:
    models = [DeepSet(4, activation, latent=3, pooling=pooling, generator=k) for k in range(K)]
    stack = one_stack(models)
    assert isinstance(stack, StackedDeepSet)
    compare(stack, "bce", *data(1, masked=masked, ties=pooling == "max"))


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_regression_deepset_step_is_autograds(loss: str) -> None:
    models = [DeepSet(5, "tanh", latent=2, rho=Rho(output=None), generator=k) for k in range(K)]
    X, _, mask = data(2, masked=True)
    y = torch.randn(K, B, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    compare(one_stack(models), loss, X, y, mask)


def test_the_sigmoid_identity_for_tanh_on_large_tensors_is_autograds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(activation, "FAST_FROM_IN_PLACE", 1)  # every tanh: 2 sigmoid(2x) - 1
    models = [DeepSet(5, generator=k) for k in range(K)]
    compare(one_stack(models), "bce", *data(4))


def test_a_deepset_on_sets_of_no_objects() -> None:
    models = [DeepSet(3, pooling="mean", generator=k) for k in range(K)]
    compare(one_stack(models), "bce", *data(5, n_objects=0))


@pytest.mark.parametrize("activation", ["relu", "tanh", None])
@pytest.mark.parametrize("hidden", [(3,), (9, 20), (40, 2, 5)])
def test_mlp_step_is_autograds(activation: str | None, hidden: tuple[int, ...]) -> None:
    """Narrow MLPs train zero-padded into wider stacks: their padding's gradients are 0 too."""
    models = [make_mlp(hidden, activation, n_objects=N, generator=k) for k in range(K)]
    stack = one_stack(models)
    assert isinstance(stack, StackedMLP)
    compare(stack, "bce", *data(6))


def test_the_comparison_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-written step that forgets the activations' derivative is caught."""
    stack = one_stack([DeepSet(4, generator=k) for k in range(K)])
    wrong = replace(activation.ACTIVATIONS["tanh"], derivative=lambda g, y: g)
    monkeypatch.setitem(activation.BY_MODULE, nn.Tanh, wrong)  # the table every part reads
    with pytest.raises(AssertionError, match="not close"):
        compare(stack, "bce", *data(7))


def test_a_saturated_sigmoid_gets_autograds_clamped_gradient() -> None:
    """Binary cross-entropy's denominator is clamped at 1e-12, as torch's own, so a model whose
    output is exactly 0 or 1 gets the same (vanishing) gradient as through autograd."""
    models = [make_mlp((4,), "relu", n_objects=N, generator=k) for k in range(K)]
    for m in models:
        nn.init.constant_(m[-2].bias, 40.0)  # sigmoid(40) == 1 in float64
    compare(one_stack(models), "bce", *data(8))


@pytest.mark.parametrize(
    "model",
    [
        lambda k: DeepSet(4, "gelu", generator=k),
        lambda k: make_mlp((4,), "gelu", n_objects=N, generator=k),
    ],
)
def test_layers_without_a_hand_written_step_go_through_autograd(model: object) -> None:
    stack = one_stack([model(k) for k in range(K)])  # type: ignore[operator]
    assert loop.hand_step(stack, "bce") is None  # type: ignore[arg-type]


def test_the_switch_turns_every_hand_written_step_off(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = one_stack([DeepSet(generator=k) for k in range(K)])
    assert loop.hand_step(stack, "bce") is not None  # type: ignore[arg-type]
    monkeypatch.setattr(loop, "HAND_WRITTEN", False)
    assert loop.hand_step(stack, "bce") is None  # type: ignore[arg-type]


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
def test_any_deepset_step_is_autograds(
    k, b, n, hidden, latent, pooling, activation, masked, regression, seed
):
    """Stacks of any size, sets of any size (none included), masks with empty sets, every
    pooling, activation and loss: the hand-written step is autograd's."""
    rho = Rho(output=None if regression else "sigmoid")
    models = [
        DeepSet(hidden, activation, latent=latent, pooling=pooling, rho=rho, generator=seed + i)
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
    compare(one_stack(models), regression or "bce", X, y, mask)
