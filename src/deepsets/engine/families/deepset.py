"""The DeepSet family: K DeepSets of one structure as one stacked network, and its cost.

Shape letters: K members, B sets, N objects, F features, L latent features, D units.

A DeepSet is stacked when its phi and rho are nn.Sequentials of Linear layers and activations
of the table and rho ends with one unit (any other trains alone, `families.module`). It pools
with `models.pooling.masked_pool`, as the DeepSet's own forward does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from deepsets.engine.families.layers import Key, StackedLayers, linear_rows, sequential_key
from deepsets.models.deepset import DeepSet
from deepsets.models.pooling import masked_pool


class StackedDeepSet:
    """K DeepSets of one key: phi on every object, pool, rho."""

    def __init__(self, models: Sequence[DeepSet]) -> None:
        self.models: list[nn.Module] = list(models)
        self.phi = StackedLayers([m.phi for m in models])  # type: ignore[misc]
        self.rho = StackedLayers([m.rho for m in models])  # type: ignore[misc]
        self.pooling = models[0].pooling

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        if type(model) is not DeepSet:
            return None
        phi, rho = sequential_key(model.phi), sequential_key(model.rho)
        if phi is None or rho is None:
            return None
        last = [m for m in model.rho.modules() if type(m) is nn.Linear][-1]  # ends with 1 unit
        return None if last.out_features != 1 else ("DeepSet", phi, rho, model.pooling)

    @staticmethod
    def cost(model: nn.Module, B: int, N: int) -> tuple[int, int]:
        """(activation values, flops) a step of any DeepSet: phi on B * N objects, rho on B."""
        assert isinstance(model, DeepSet)
        phi, rho = linear_rows(model.phi, B * N), linear_rows(model.rho, B)
        return phi[0] + rho[0], phi[1] + rho[1]

    def init(self) -> list[torch.Tensor]:
        return self.phi.init() + self.rho.init()

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        h = self.phi(X.reshape(K, B * N, F).transpose(1, 2), params)  # (K, L, B*N)
        m = None if mask is None else mask.unsqueeze(1)  # (K, 1, B, N)
        z, _ = masked_pool(h.view(K, h.shape[1], B, N), m, self.pooling, dim=-1)  # (K, L, B)
        return self.rho(z, params)[:, 0]  # (K, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.phi.write_back(params)
        self.rho.write_back(params)
