"""Cheaper forms of activations for the stacked networks: the same function, fewer cycles.

Only the engine's stacked forms use these; a user's `DeepSet` keeps its `nn.Tanh`.
"""

from __future__ import annotations

import torch
from torch import nn


def tanh_(z: torch.Tensor) -> torch.Tensor:
    """tanh(z) in place, as 2 sigmoid(2z) - 1: the sigmoid's kernel is the cheaper one."""
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


class FastTanh(torch.autograd.Function):
    """tanh(x) = 2 sigmoid(2x) - 1, with the backward from the saved output, 1 - tanh^2.

    Measured on a (64, 5, 2000) float32 tensor, one thread: forward and backward in 0.73-0.94 ms
    against 1.90-2.07 ms for torch.tanh (2.2-2.6x); the values differ from torch.tanh by at
    most 1.8e-7 in float32 and 3.3e-16 in float64.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        y = tanh_(x.clone())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors  # type: ignore[attr-defined]
        grad: torch.Tensor = torch.ops.aten.tanh_backward(g, y)
        return grad


class Tanh(nn.Module):
    """nn.Tanh through FastTanh on tensors of at least FAST_FROM values, torch.tanh below."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() < FAST_FROM:
            return torch.tanh(x)
        y: torch.Tensor = FastTanh.apply(x)  # type: ignore[no-untyped-call]
        return y


# The autograd.Function costs about 20 us of Python a call, and saves about 1 ns a value
# (forward and backward): on small tensors it is slower. Measured in CPU seconds, interleaved:
# one DeepSet (5,000 values a layer) 0.341 s with it for all tensors against 0.301 s without;
# 64 DeepSets (320,000 values) 0.872 s against 1.246 s. Hence a threshold between them, and
# the switch's end-to-end gain in benchmarks/README.md, "Levers".
FAST_TANH = True
FAST_FROM = 32_768

# The hand-written steps (engine/backprop.py) apply tanh in place on a fresh tensor, where the
# identity is four in-place ops and no autograd.Function: measured on one thread, tanh_ against
# mul_(2).sigmoid_().mul_(2).sub_(1), 2,000 values 4.8 us against 6.8; 5,000 11.0 against 8.0;
# 32,768 69.5 against 16.0; 640,000 1,626 against 229.
FAST_FROM_IN_PLACE = 4_096


def fast(layer: nn.Module) -> nn.Module:
    """The cheaper equivalent of an elementwise layer when FAST_TANH, else the layer itself."""
    return Tanh() if FAST_TANH and type(layer) is nn.Tanh else layer
