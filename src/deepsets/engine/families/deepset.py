"""The DeepSet family: K DeepSets of one structure as one stacked network, its hand-written
step and its cost.

Shape letters: K members, B sets, N objects, F features, L latent features, D units.

A DeepSet is stacked when its phi and rho are nn.Sequentials of Linear layers and activations
of the table (the integer form always is; user modules may be) and rho ends with one unit;
any other DeepSet (an encoder as phi, a subclass) trains alone through autograd
(`families.module`). The pooling, forward and backward, is `models.pooling.masked_pool`, the
same function the DeepSet's own forward pools with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from deepsets.engine.families.layers import (
    Key,
    StackedLayers,
    Step,
    Tape,
    backward,
    forward,
    head,
    linear_rows,
    sequential_key,
)
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
        z = Pooling(h.view(K, h.shape[1], B, N), mask, self.pooling).z  # (K, L, B)
        return self.rho(z, params)[:, 0]  # (K, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.phi.write_back(params)
        self.rho.write_back(params)

    def step(self, loss: str) -> Step | None:
        phi, rho = self.phi.activations(), self.rho.activations()
        if phi is None or rho is None:
            return None
        kind = self.pooling

        def step(
            params: Iterator[torch.Tensor],
            grads: Iterator[torch.Tensor],
            X: torch.Tensor,
            y: torch.Tensor,
            mask: torch.Tensor | None,
        ) -> torch.Tensor:
            K, B, N, F = X.shape
            at_phi, at_rho = Tape(), Tape()
            h = forward(phi, X.reshape(K, B * N, F).transpose(1, 2), params, at_phi)  # (K, L, BN)
            L = h.shape[1]
            pooling = Pooling(h.view(K, L, B, N), mask, kind)
            out = forward(rho, pooling.z, params, at_rho)  # (K, D', B)
            per, g = head(loss, out, y)
            phi_grads = [next(grads) for _ in range(2 * len(phi))]
            gz = backward(rho, at_rho, g, grads, need_input=True)
            assert gz is not None
            backward(phi, at_phi, pooling.pullback(gz).view(K, L, B * N), iter(phi_grads), False)
            return per

        return step


class Pooling:
    """`masked_pool` over the objects of h (K, L, B, N), mask (K, B, N) or None: z (K, L, B);
    `pullback` maps dL/dz to dL/dh (autograd's formulas, a max's gradient shared by ties)."""

    def __init__(self, h: torch.Tensor, mask: torch.Tensor | None, kind: str) -> None:
        self.kind, self.shape = kind, h.shape
        self.m = None if mask is None else mask.unsqueeze(1)  # (K, 1, B, N)
        self.z, self.h = masked_pool(h, self.m, kind, dim=-1)  # (K, L, B), h as pooled

    def pullback(self, g: torch.Tensor) -> torch.Tensor:
        """dL/dz (K, L, B) -> dL/dh (K, L, B, N)."""
        if self.kind == "max":
            if self.m is not None:
                g = g.masked_fill(~self.m.any(dim=-1), 0.0)
            eq = self.h == self.z.unsqueeze(-1)  # (K, L, B, N): where the max is, ties shared
            return (g / eq.sum(dim=-1).clamp_(min=1)).unsqueeze(-1) * eq  # empty sets: none
        if self.kind == "mean":
            N = self.shape[-1]
            g = g / (max(N, 1) if self.m is None else self.m.sum(dim=-1).clamp(min=1))
        full = g.unsqueeze(-1).expand(self.shape)  # (K, L, B, N)
        return full.contiguous() if self.m is None else full.masked_fill(~self.m, 0.0)
