"""Stacked forms: K models of one architecture run as one batched network, weights (K, ...).

Shape letters: K members, B sets, N objects, F features, D units of a layer, M rows.

A tiny model spends its time on per-op overhead, not arithmetic, so models of one architecture
train as one: every nn.Linear of the K members becomes one `baddbmm` over stacked weights
W (K, out, in). Activations are kept features-first, x (K, D, M), so the long dimension M is
innermost: with D of 1 to 5 that is about ten times faster on a CPU than (K, M, in) @ (K, in, out).

Each stack knows one model family: `from_models` builds it, `forward` runs it on views of the
trained weights, `write_back` copies the weights into the members. Any other nn.Module trains
as a `ModuleStack` of one, through its own forward (`torch.func.functional_call`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import torch
from torch import nn
from torch.func import functional_call

from deepsets.engine.activations import fast
from deepsets.models.activation import ACTIVATIONS
from deepsets.models.deepset import DeepSet
from deepsets.models.mlp import mlp_spec
from deepsets.models.pooling import pool

Key = tuple[object, ...]  # what models must share to train as one stack

# parameter-free elementwise layers a stack applies as they are: the activations and the output
ELEMENTWISE = (*ACTIVATIONS.values(), nn.Sigmoid, nn.Identity)


class Stack(Protocol):
    """K models trained as one; the training loop sees only this."""

    models: list[nn.Module]

    def init(self) -> list[torch.Tensor]:
        """The members' initial weights, stacked: tensors (K, ...)."""
        ...

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """X (K, B, N, F), mask (K, B, N) or None -> probabilities (K, B), from `params`."""
        ...

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        """Copy trained weights (views as in `forward`) into the members, in place."""
        ...


def layer_key(m: nn.Module) -> Key | None:
    """What two layers must share to be stacked; None for a layer no stack knows."""
    if type(m) is nn.Linear and m.bias is not None:
        return ("linear", m.in_features, m.out_features)
    if type(m) in ELEMENTWISE:
        return (repr(m),)  # the type and its options, e.g. GELU(approximate='tanh')
    return None


class StackedLayers:
    """The Linear and elementwise layers of K nn.Sequentials of one shape, on x (K, D, M)."""

    def __init__(self, seqs: Sequence[nn.Sequential]) -> None:
        self.ops: list[nn.Module | None] = []  # None: a Linear, its (W, b) next in params
        self.members: list[list[torch.Tensor]] = []  # per stacked tensor, each member's own
        for layers in zip(*seqs, strict=True):
            if type(layers[0]) is nn.Linear:
                self.members.append([m.weight for m in layers])  # each (out, in)
                self.members.append([m.bias.unsqueeze(-1) for m in layers])  # each (out, 1)
                self.ops.append(None)
            else:
                self.ops.append(fast(layers[0]))

    def init(self) -> list[torch.Tensor]:
        return [torch.stack([t.detach() for t in ts]) for ts in self.members]  # (K, out, in|1)

    def __call__(self, x: torch.Tensor, params: Iterator[torch.Tensor]) -> torch.Tensor:
        """x (K, D, M) -> (K, D', M), every member through its own weights."""
        for op in self.ops:
            if op is None:
                W, b = next(params), next(params)  # (K, out, in), (K, out, 1)
                x = torch.baddbmm(b, W, x)  # (K, out, M)
            else:
                x = op(x)
        return x

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        for ts in self.members:
            stacked = next(params)
            for k, t in enumerate(ts):
                t.copy_(stacked[k])


def sequential_key(seq: nn.Module) -> Key | None:
    """The stack key of an nn.Sequential of known layers, None otherwise."""
    if type(seq) is not nn.Sequential:
        return None
    keys = tuple(layer_key(m) for m in seq)
    return None if any(k is None for k in keys) else keys


class StackedDeepSet:
    """K DeepSets of one configuration: phi on every object, pool, rho."""

    def __init__(self, models: Sequence[DeepSet]) -> None:
        self.models: list[nn.Module] = list(models)
        self.pooling = models[0].pooling
        self.phi = StackedLayers([m.phi for m in models])
        self.rho = StackedLayers([m.rho for m in models])

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        if type(model) is not DeepSet:
            return None
        parts = (sequential_key(model.phi), sequential_key(model.rho))
        return None if None in parts else ("DeepSet", *parts, model.pooling)

    def init(self) -> list[torch.Tensor]:
        return self.phi.init() + self.rho.init()

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        h = self.phi(X.reshape(K, B * N, F).transpose(1, 2), params)  # (K, L, B*N)
        L = h.shape[1]
        if mask is not None:  # the same mask for each of the L latent features
            mask = mask.unsqueeze(1).expand(K, L, B, N).reshape(K * L * B, N)  # (K*L*B, N)
        z = pool(h.reshape(K * L * B, N, 1), mask, self.pooling)  # (K*L*B, 1)
        return self.rho(z.view(K, L, B), params)[:, 0]  # (K, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.phi.write_back(params)
        self.rho.write_back(params)


class StackedMLP:
    """K MLPs of one `MLPSpec` (as `make_mlp` builds): flatten the set, then dense layers."""

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        self.models: list[nn.Module] = list(models)
        self.layers = StackedLayers([nn.Sequential(*list(m)[1:]) for m in models])

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        spec = mlp_spec(model)  # the one description of an MLP (models/mlp.py)
        return None if spec is None else ("MLP", spec)

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


class ModuleStack:
    """Any other nn.Module, alone (K = 1), through its own forward with the trained weights."""

    def __init__(self, model: nn.Module) -> None:
        self.models = [model]
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]

    def init(self) -> list[torch.Tensor]:
        params = dict(self.models[0].named_parameters())
        return [params[n].detach().unsqueeze(0) for n in self.names]  # each (1, ...)

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        weights = {n: next(params)[0] for n in self.names}
        args = (X[0],) if mask is None else (X[0], mask[0])  # (B, N, F), (B, N)
        p: torch.Tensor = functional_call(self.models[0], weights, args)  # (B, 1)
        return p[:, 0].unsqueeze(0)  # (1, B)

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        own = dict(self.models[0].named_parameters())
        for n in self.names:
            own[n].copy_(next(params)[0])


FAMILIES = (StackedDeepSet, StackedMLP)


def stack_key(model: nn.Module) -> Key:
    """Models with equal keys train as one stack; a key naming no family means alone."""
    p = next(model.parameters(), None)
    where = (None, None) if p is None else (p.dtype, p.device)
    if all(q.requires_grad for q in model.parameters()):
        for family in FAMILIES:
            key = family.key(model)
            if key is not None:
                return (family, *where, key)
    return (ModuleStack, id(model))


def stack_models(models: Sequence[nn.Module]) -> list[tuple[Stack, list[int]]]:
    """Group models into stacks: (stack, the index of each member in `models`), input order."""
    groups: dict[Key, list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault(stack_key(m), []).append(i)
    stacks: list[tuple[Stack, list[int]]] = []
    for key, index in groups.items():
        members = [models[i] for i in index]
        family = key[0]
        stack = family(members) if family in FAMILIES else ModuleStack(members[0])  # type: ignore[arg-type]
        stacks.append((stack, index))
    return stacks
