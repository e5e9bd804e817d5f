"""The MLP family (as `make_mlp` builds): K MLPs as one stacked network, and its cost.

Shape letters: K members, B sets, N objects, F features, D units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from deepsets.engine.families.layers import Key, StackedLayers, linear_rows
from deepsets.models.mlp import mlp_spec


class StackedMLP:
    """K MLPs: flatten the set, then dense layers."""

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        self.models: list[nn.Module] = list(models)
        seqs = [nn.Sequential(*list(m)[1:]) for m in models]  # without the Flatten
        self.layers = StackedLayers(seqs)

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        spec = mlp_spec(model)  # the one description of an MLP (models/mlp.py)
        if spec is None or spec.sizes[-1] != 1:  # a stack returns one number per set
            return None
        return ("MLP", spec.sizes, spec.activations, spec.sigmoid)

    @staticmethod
    def cost(model: nn.Module, B: int, N: int) -> tuple[int, int]:
        """(activation values, flops) a step: every Linear on the B sets."""
        return linear_rows(model, B)

    def init(self) -> list[torch.Tensor]:
        return self.layers.init()

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        x = X.reshape(K, B, N * F).transpose(1, 2)  # (K, N*F, B)
        return self.layers(x, params)[:, 0]  # (K, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.layers.write_back(params)
