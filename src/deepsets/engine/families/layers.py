"""What the stacked families share: stacked Linear layers and their cost.

Shape letters: K members, D units of a layer, M rows (sets, or objects), B sets.

Models of one architecture train as one: every nn.Linear of the K members becomes one `baddbmm`
over stacked weights W (K, out, in), on activations kept features-first, x (K, D, M), so that the
long dimension M is innermost (about ten times faster on a CPU with D of 1 to 5). Gradients
come from autograd; activations from the one table, `models.activation.ACTIVATIONS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import torch
from torch import nn

from deepsets.models.activation import activation_of

Key = tuple[object, ...]  # what models must share to train as one stack

# The stacked forms use each activation's fast form (the table's `fast`): kept for the K = 64
# target (benchmarks/README.md, "Levers").
FAST_TANH = True


class Stack(Protocol):
    """K models trained as one; the training loop sees only this."""

    models: list[nn.Module]

    def init(self) -> list[torch.Tensor]:
        """The members' initial weights, stacked: tensors (K, ...)."""
        ...

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """X (K, B, N, F), mask (K, B, N) or None -> outputs (K, B) (or (K, B, *O) for a
        model whose output per set is not one number), from `params`."""
        ...

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        """Copy trained weights (views as in `forward`) into the members, in place."""
        ...


def elementwise(m: nn.Module) -> bool:
    """Whether a stack applies `m` as it is: an activation of the table, or nn.Identity."""
    return type(m) is nn.Identity or activation_of(m) is not None


def layer_key(m: nn.Module) -> Key | None:
    """What two layers must share to be stacked; None for a layer no stack knows."""
    if type(m) is nn.Linear and m.bias is not None:
        return ("linear", m.in_features, m.out_features)
    if elementwise(m):
        return (repr(m),)  # the type and its options, e.g. GELU(approximate='tanh')
    return None


def sequential_key(seq: nn.Module) -> Key | None:
    """The stack key of an nn.Sequential of known layers that starts with a Linear, None
    otherwise."""
    if type(seq) is not nn.Sequential or not len(seq) or type(seq[0]) is not nn.Linear:
        return None
    keys = tuple(layer_key(m) for m in seq)
    return None if any(k is None for k in keys) else keys


def fast(layer: nn.Module) -> nn.Module:
    """The table's cheaper module of an elementwise layer when FAST_TANH, else the layer."""
    a = activation_of(layer)
    return a.fast() if FAST_TANH and a is not None and a.fast is not None else layer


class StackedLayers:
    """The Linear layers of K nn.Sequentials of one key as stacked weights, and the
    elementwise layers after each, on x (K, D, M)."""

    def __init__(self, seqs: Sequence[nn.Sequential]) -> None:
        self.members: list[list[torch.Tensor]] = []  # per stacked tensor, each member's own
        gaps = [split_at_linears(seq, self.members) for seq in seqs]  # per member, per Linear
        # the members share their elementwise layers (their stack key)
        self.ops = [[fast(m) for m in gap] for gap in gaps[0]]  # per Linear

    def init(self) -> list[torch.Tensor]:
        """The members' weights (out, in) and biases (out, 1), stacked: (K, out, in | 1)."""
        return [torch.stack([t.detach() for t in ts]) for ts in self.members]

    def __call__(self, x: torch.Tensor, params: Iterator[torch.Tensor]) -> torch.Tensor:
        """x (K, D, M) -> (K, D', M), every member through its own weights."""
        for ops in self.ops:
            W, b = next(params), next(params)  # (K, out, in), (K, out, 1)
            x = torch.baddbmm(b, W, x)  # (K, out, M)
            for op in ops:
                x = op(x)
        return x

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        for ts in self.members:
            stacked = next(params)
            for k, t in enumerate(ts):
                t.copy_(stacked[k])


def split_at_linears(
    seq: nn.Sequential, members: list[list[torch.Tensor]]
) -> list[list[nn.Module]]:
    """The elementwise layers after each Linear of `seq`; the Linear's weight (out, in) and bias
    (out, 1) are appended to the per-tensor lists of `members` (created for the first member)."""
    gaps: list[list[nn.Module]] = []
    j = 0
    for m in seq:
        if type(m) is nn.Linear:
            if len(members) < 2 * (j + 1):
                members += [[], []]
            members[2 * j].append(m.weight)
            members[2 * j + 1].append(m.bias.unsqueeze(-1))
            gaps.append([])
            j += 1
        else:
            gaps[-1].append(m)
    return gaps


def linear_rows(seq: nn.Module, rows: int) -> tuple[int, int]:
    """(activation values, multiply-adds x 2) of the Linear layers in `seq` on `rows` rows,
    forward only: the cost estimate of a step (engine/parts.py)."""
    linears = [m for m in seq.modules() if isinstance(m, nn.Linear)]
    values = rows * sum(m.out_features for m in linears)
    return values, 2 * rows * sum(m.in_features * m.out_features for m in linears)
