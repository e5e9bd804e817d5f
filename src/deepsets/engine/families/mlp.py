"""The MLP family (as `make_mlp` builds): K MLPs as one stacked network, narrow ones padded,
with its hand-written step and its cost.

Shape letters: K members, B sets, N objects, F features, D units.
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
)
from deepsets.models.activation import ACTIVATIONS
from deepsets.models.mlp import MLPSpec, mlp_spec

# Hidden widths up to 16 or 32 share a stack zero-padded to that width: fewer stacks, so fewer
# ops per step, for a little more arithmetic. Measured 1.15x in a run on the idle machine, and
# 1.13x and 1.02x in two records (benchmarks/README.md, "Levers").
PAD_TO: tuple[int, ...] = (16, 32)


def padded_sizes(spec: MLPSpec) -> tuple[int, ...]:
    """The layer sizes of `spec`'s stack: hidden widths rounded up to a PAD_TO width.

    Exact when every activation is 0 at 0 (the table's `at_zero`; no activation is the
    identity): a padded unit has zero weights in and out, so its output is 0, its gradients
    are 0, and Adam leaves its weights at 0.
    """
    if any(a is not None and ACTIVATIONS[a].at_zero != 0 for a in spec.activations):
        return spec.sizes
    hidden = tuple(next((p for p in PAD_TO if w <= p), w) for w in spec.widths)
    return (spec.sizes[0], *hidden, spec.sizes[-1])


class StackedMLP:
    """K MLPs: flatten the set, then dense layers, narrow ones padded."""

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        self.models: list[nn.Module] = list(models)
        spec = mlp_spec(models[0])
        assert spec is not None  # `key` admitted only MLPs
        seqs = [nn.Sequential(*list(m)[1:]) for m in models]
        self.layers = StackedLayers(seqs, padded_sizes(spec))

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        spec = mlp_spec(model)  # the one description of an MLP (models/mlp.py)
        if spec is None or spec.sizes[-1] != 1:  # a stack returns one number per set
            return None
        return ("MLP", padded_sizes(spec), spec.activations, spec.sigmoid)

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

    def step(self, loss: str) -> Step | None:
        acts = self.layers.activations()
        if acts is None:
            return None

        def step(
            params: Iterator[torch.Tensor],
            grads: Iterator[torch.Tensor],
            X: torch.Tensor,
            y: torch.Tensor,
            mask: torch.Tensor | None,
        ) -> torch.Tensor:
            K, B, N, F = X.shape
            tape = Tape()
            x = X.reshape(K, B, N * F).transpose(1, 2)  # (K, N*F, B)
            per, g = head(loss, forward(acts, x, params, tape), y)  # out (K, D', B)
            backward(acts, tape, g, grads, need_input=False)
            return per

        return step
