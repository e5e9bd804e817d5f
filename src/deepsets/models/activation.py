"""Activations by name, and dense stacks of layers whose initial weights can be seeded."""

from __future__ import annotations

import math

import torch
from torch import nn

from deepsets.validate import as_generator, positive_int

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


def check_activation(activation: str | None, name: str = "activation") -> str | None:
    """Return the activation name if known; None means no nonlinearity."""
    if activation is not None and (
        not isinstance(activation, str) or activation not in ACTIVATIONS
    ):
        raise ValueError(f"{name} must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}")
    return activation


def activation_name(module: nn.Module) -> str | None:
    """The name of an activation module, or None if it is not one of ACTIVATIONS."""
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


def linear(a: int, b: int, generator: torch.Generator | None = None) -> nn.Linear:
    """nn.Linear(a, b), its initial weights drawn from `generator` if one is given.

    The draw is nn.Linear's own (Kaiming-uniform weight, then a uniform bias in
    +-1/sqrt(a)), so a seeded generator gives what `torch.manual_seed` would, without
    touching torch's global generator. None keeps nn.Linear's default (the global one).
    """
    a, b = positive_int(a, "in_features"), positive_int(b, "out_features")
    if generator is None:
        return nn.Linear(a, b)
    layer: nn.Linear = nn.utils.skip_init(nn.Linear, a, b)  # type: ignore[no-untyped-call]
    # (allocated, not initialised: no draw from the global generator)
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(a)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def seeded(generator: torch.Generator | int | None) -> torch.Generator | None:
    """The generator a constructor draws its weights from: None stays None (torch's global)."""
    return None if generator is None else as_generator(generator)


def dense(
    sizes: list[int], activation: str | None, generator: torch.Generator | None = None
) -> list[nn.Module]:
    """Linear layers through `sizes`, with `activation` after every one but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(linear(a, b, generator))
        if activation is not None and i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers
