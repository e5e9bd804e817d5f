"""The exercise's baseline: a fully connected network on the flattened set, order-sensitive."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from deepsets.data import check_n_objects
from deepsets.models.activation import check_activation, dense, seeded
from deepsets.validate import positive_int, positive_ints


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
    sizes = [n_objects * in_features, *widths, 1]
    layers = dense(sizes, activation, seeded(generator))
    return nn.Sequential(nn.Flatten(), *layers, nn.Sigmoid())
