"""The activations: one table (`ACTIVATIONS`, name -> the module the models build and its fast
form for the engine's stacks) that models, weights and the engine all read. A module is a
row's only if it is exactly what the row builds, its type and repr: `GELU(approximate='tanh')`
is "gelu_tanh", never "gelu". `dense` builds stacks of layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from deepsets.checks import positive_int
from deepsets.models.seeding import seeded_init

aten = torch.ops.aten


def tanh_(z: torch.Tensor) -> torch.Tensor:
    """tanh(z) in place, as 2 sigmoid(2z) - 1: the sigmoid's kernel is the cheaper one."""
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


class FastTanh(torch.autograd.Function):
    """tanh(x) = 2 sigmoid(2x) - 1, with the backward from the saved output, 1 - tanh^2 (its
    gain: benchmarks/README.md, "Levers")."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        y = tanh_(x.clone())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors  # type: ignore[attr-defined]
        grad: torch.Tensor = aten.tanh_backward(g, y)
        return grad


FAST_FROM = 32_768  # FastTanh's Python costs more than it saves on smaller tensors


class Tanh(nn.Module):
    """nn.Tanh through FastTanh on tensors of at least FAST_FROM values, torch.tanh below."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() < FAST_FROM:
            return torch.tanh(x)
        y: torch.Tensor = FastTanh.apply(x)  # type: ignore[no-untyped-call]
        return y


@dataclass(frozen=True)
class Activation:
    """One activation, as every part of the package sees it."""

    name: str
    """Its name in settings, files and errors."""
    module: Callable[[], nn.Module]
    """Builds the module the models use."""
    fast: type[nn.Module] | None = None
    """A cheaper module of the same function for the engine's stacked forms (None: `module`)."""


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", nn.Tanh, Tanh),
        Activation("relu", nn.ReLU),
        Activation("sigmoid", nn.Sigmoid),
        Activation("gelu", nn.GELU),
        Activation("gelu_tanh", partial(nn.GELU, approximate="tanh")),
    )
}
BY_MODULE = {(type(m), repr(m)): a for a in ACTIVATIONS.values() for m in [a.module()]}


def check_activation(activation: str | None, name: str = "activation") -> str | None:
    """The activation's name if it is a row of ACTIVATIONS; None means no nonlinearity."""
    if activation is not None and not (isinstance(activation, str) and activation in ACTIVATIONS):
        raise ValueError(
            f"{name} must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}"
        )
    return activation


def activation_of(module: nn.Module) -> Activation | None:
    """The table's entry for an activation module (its exact type and options), None for any
    other module."""
    return BY_MODULE.get((type(module), repr(module)))


def activation_name(module: nn.Module) -> str | None:
    """The name of an activation module, or None if it is not one of ACTIVATIONS."""
    a = activation_of(module)
    return None if a is None else a.name


def dense(
    sizes: list[int], activation: str | None, generator: torch.Generator | int | None = None
) -> list[nn.Module]:
    """Linear layers through `sizes`, with `activation` after every one but the last; their
    initial weights drawn from `generator` (`seeded_init`; None: torch's global generator)."""
    sizes = [positive_int(s, "in_features" if i == 0 else "out_features") for i, s in
             enumerate(sizes)]  # fmt: skip
    layers: list[nn.Module] = []
    with seeded_init(generator):
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if activation is not None and i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation].module())
    return layers
