"""The exercise's baseline: a fully connected network on the flattened set, order-sensitive."""

from __future__ import annotations

import numbers

from torch import nn

from deepsets.data import check_n_objects
from deepsets.models.activation import check_activation, dense
from deepsets.models.deepset import positive_int


def make_mlp(
    hidden: int | tuple[int, ...] | list[int] = (20, 20),
    activation: str | None = "relu",
    n_objects: int = 10,
    in_features: int = 1,
) -> nn.Sequential:
    """A `torch.nn.Sequential` MLP: (B, N, F) -> flatten (B, N*F) -> hidden -> sigmoid (B, 1).

    Arguments:
        hidden: widths of the hidden layers (an int for one layer).
        activation: nonlinearity after each hidden layer, or None.
        n_objects: N, the set size the network is built for (it cannot take another).
        in_features: F, features per object.
    """
    if isinstance(hidden, numbers.Integral):
        widths = (hidden,)
    elif isinstance(hidden, tuple | list):
        widths = tuple(hidden)
    else:
        raise ValueError(f"hidden widths must be positive integers, got {hidden!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1:
            raise ValueError(f"hidden widths must be positive integers, got {hidden!r}")
    check_activation(activation)
    n_objects = check_n_objects(n_objects)
    in_features = positive_int(in_features, "in_features")
    sizes = [n_objects * in_features, *map(int, widths), 1]
    return nn.Sequential(nn.Flatten(), *dense(sizes, activation), nn.Sigmoid())
