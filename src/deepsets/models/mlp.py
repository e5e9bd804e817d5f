"""The exercise's baseline: a fully connected network on the flattened set, order-sensitive.

`MLPSpec` is the one description of such a network: `mlp_from_spec` builds it, `mlp_spec`
recognises it in a `torch.nn.Sequential` (for saving, and for training many at once).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
from torch import nn

from deepsets.checks import check_flag, check_memory, positive_int, positive_ints
from deepsets.data import check_n_objects
from deepsets.models.activation import ACTIVATIONS, activation_name, check_activation
from deepsets.models.seeding import seeded_init


@dataclass(frozen=True)
class MLPSpec:
    """An MLP: `Sequential(Flatten(), Linear(sizes[0], sizes[1]), act[0], ..., Linear(sizes[-2],
    sizes[-1]), Sigmoid() if sigmoid)`; an activation of None is no module at all."""

    sizes: tuple[int, ...]
    """Input width (N * F, the flattened set), the hidden widths, then the output width."""
    activations: tuple[str | None, ...]
    """One per hidden layer: the name in ACTIVATIONS of the module after it, or None."""
    sigmoid: bool = True
    """Whether a final Sigmoid turns the output into a probability (False: raw logits)."""

    def __post_init__(self) -> None:
        positive_ints(self.sizes, "sizes")
        if len(self.sizes) < 2:
            raise ValueError(f"sizes must hold an input and an output width, got {self.sizes!r}")
        if not isinstance(self.activations, tuple) or len(self.activations) != len(self.sizes) - 2:
            raise ValueError(
                f"activations must be a tuple of one name or None per hidden layer "
                f"({len(self.sizes) - 2}), got {self.activations!r}"
            )
        for i, a in enumerate(self.activations):
            check_activation(a, f"activations[{i}]")
        check_flag(self.sigmoid, "sigmoid")

    @property
    def widths(self) -> tuple[int, ...]:
        """The hidden widths."""
        return self.sizes[1:-1]

    @property
    def n_params(self) -> int:
        """Weights and biases of all Linear layers."""
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))


def mlp_from_spec(
    spec: MLPSpec, generator: torch.Generator | int | None = None, *, what: str | None = None
) -> nn.Sequential:
    """The `nn.Sequential` that `spec` describes, its weights from `generator`; refused (naming
    `what`) if they would not fit in memory."""
    what = what or f"an MLP with layer sizes {list(spec.sizes)}"
    check_memory(spec.n_params * torch.get_default_dtype().itemsize, what)
    layers: list[nn.Module] = [nn.Flatten()]
    with seeded_init(generator):
        for i, (a, b) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            act = spec.activations[i] if i < len(spec.activations) else None
            if act is not None:
                layers.append(ACTIVATIONS[act].module())
    if spec.sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def check_mlp(model: nn.Module) -> MLPSpec:
    """The MLPSpec of `model` (exactly `MLPSpec`'s layers, an activation's exact type, biases),
    or a TypeError naming the first layer that does not fit one."""
    if type(model) is not nn.Sequential:
        raise TypeError(f"an MLP must be a torch.nn.Sequential, got {type(model).__name__}")
    layers = list(model)
    if not layers or type(layers[0]) is not nn.Flatten or layers[0].start_dim != 1:
        raise TypeError("an MLP must start with nn.Flatten() (start_dim=1, end_dim=-1)")
    if layers[0].end_dim != -1:
        raise TypeError("an MLP must start with nn.Flatten() (start_dim=1, end_dim=-1)")
    sigmoid = type(layers[-1]) is nn.Sigmoid
    body = layers[1 : len(layers) - sigmoid]
    sizes: list[int] = []
    activations: list[str | None] = []
    for i, layer in enumerate(body, start=1):
        if type(layer) is nn.Linear:
            if layer.bias is None:
                raise TypeError(f"layer {i} ({layer}) has no bias; an MLP's Linear layers do")
            if sizes and sizes[-1] != layer.in_features:
                raise TypeError(f"layer {i} ({layer}) does not take the previous layer's output")
            if sizes and len(activations) < len(sizes) - 1:
                activations.append(None)  # two Linear layers in a row
            sizes += [layer.in_features] if not sizes else []
            sizes.append(layer.out_features)
        elif activation_name(layer) is not None and sizes and len(activations) < len(sizes) - 1:
            activations.append(activation_name(layer))
        else:
            raise TypeError(
                f"layer {i} ({layer}) is not supported in an MLP: only Linear layers and "
                f"{sorted(ACTIVATIONS)} between them (one each), then an optional final Sigmoid"
            )
    if not sizes or len(activations) == len(sizes) - 1:
        raise TypeError("an MLP must end with a Linear layer (then an optional Sigmoid)")
    return MLPSpec(tuple(sizes), tuple(activations), sigmoid)


def mlp_spec(model: nn.Module) -> MLPSpec | None:
    """The MLPSpec of `model` if it is exactly such an MLP (`check_mlp`), else None."""
    try:
        return check_mlp(model)
    except TypeError:
        return None


def make_mlp(
    hidden: int | tuple[int, ...] | list[int] = (20, 20),
    activation: str | None = "relu",
    n_objects: int = 10,
    in_features: int = 1,
    *,
    generator: torch.Generator | int | None = None,
) -> nn.Sequential:
    """A `torch.nn.Sequential` MLP: (B, N, F) -> flatten (B, N*F) -> hidden -> sigmoid (B, 1).

    Arguments:
        hidden: widths of the hidden layers (an int for one layer).
        activation: nonlinearity after each hidden layer, or None.
        n_objects: N, the set size the network is built for (it cannot take another).
        in_features: F, features per object.
        generator: a torch.Generator or integer seed for the initial weights; None draws from
            torch's global generator, as nn.Linear does.
    """
    single = isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool)
    widths = positive_ints((hidden,) if single else hidden, "hidden", empty=True)
    check_activation(activation)
    n_objects = check_n_objects(n_objects)
    in_features = positive_int(in_features, "in_features")
    spec = MLPSpec((n_objects * in_features, *widths, 1), (activation,) * len(widths))
    what = f"make_mlp(hidden={hidden!r}, n_objects={n_objects}, in_features={in_features})"
    return mlp_from_spec(spec, generator, what=what)
