"""Activations by name, so settings and saved models can say which one a network uses."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


def check_activation(activation: str | None, name: str = "activation") -> str | None:
    """Return the activation name if known; None means no nonlinearity."""
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f"{name} must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}")
    return activation


def activation_name(module: nn.Module) -> str | None:
    """The name of an activation module, or None if it is not one of ACTIVATIONS."""
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls:
            return name
    return None


def dense(sizes: list[int], activation: str | None) -> list[nn.Module]:
    """Linear layers through `sizes`, with `activation` after every one but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if activation is not None and i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers
