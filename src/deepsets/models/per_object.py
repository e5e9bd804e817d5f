"""Networks with one output per object: phi on each object alone (no interaction), and a stack
of the paper's equivariant layers (x -> Lambda x + Gamma pool(x)).

Shape letters: B sets, N objects, F features, H hidden units.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepsets.checks import positive_int
from deepsets.models.activation import check_activation, dense
from deepsets.models.arguments import recorded
from deepsets.models.equivariant import PermEquivariant
from deepsets.models.pooling import check_pooling
from deepsets.models.seeding import seeded_init


class PerElementNet(nn.Module):
    """phi applied to each object alone, then a sigmoid: (B, N, F) -> (B, N); no interaction."""

    @recorded
    def __init__(
        self,
        hidden: int = 16,
        activation: str = "tanh",
        *,
        in_features: int = 1,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        H, Fin = positive_int(hidden, "hidden"), positive_int(in_features, "in_features")
        act = check_activation(activation)
        self.phi = nn.Sequential(*dense([Fin, H, H, 1], act, generator))

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); `mask` is accepted and has no effect on real objects."""
        return torch.sigmoid(self.phi(X)[..., 0])  # (B, N)


class EquivariantNet(nn.Module):
    """`layers` PermEquivariant layers (x -> Lambda x + Gamma pool(x)) with tanh between, then a
    sigmoid: (B, N, F) -> per-object probabilities (B, N)."""

    @recorded
    def __init__(
        self,
        hidden: int = 16,
        layers: int = 3,
        pooling: str = "mean",
        *,
        in_features: int = 1,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        H, depth = positive_int(hidden, "hidden"), positive_int(layers, "layers")
        sizes = [positive_int(in_features, "in_features"), *[H] * (depth - 1), 1]
        check_pooling(pooling)
        self.layers = nn.ModuleList(
            PermEquivariant(a, b, pooling) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        if generator is not None:  # drawn again from the generator, in nn.Linear's range
            with torch.no_grad(), seeded_init(generator):
                for a, layer in zip(sizes[:-1], self.layers, strict=True):
                    bound = 1 / math.sqrt(a)  # nn.Linear's default range for `a` inputs
                    for p in layer.parameters():
                        p.uniform_(-bound, bound)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); padded objects come out as sigmoid(0) = 1/2."""
        h = X  # (B, N, F)
        for i, layer in enumerate(self.layers):
            h = layer(h, mask)  # (B, N, H)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return torch.sigmoid(h[..., 0])  # (B, N)
