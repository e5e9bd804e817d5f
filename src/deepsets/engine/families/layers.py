"""What the stacked families share: stacked Linear layers, their hand-written step, their cost.

Shape letters: K members, D units of a layer, M rows (sets, or objects), B sets.

A tiny model spends its time on per-op overhead, not arithmetic, so models of one architecture
train as one: every nn.Linear of the K members becomes one `baddbmm` over stacked weights
W (K, out, in). Activations are kept features-first, x (K, D, M), so the long dimension M is
innermost: with D of 1 to 5 that is about ten times faster on a CPU than (K, M, in) @ (K, in, out).

The hand-written step (`Tape`, `forward`, `backward`, `head`) is autograd's derivative formulas,
op for op, on those layers; every weight's gradient is written straight into its place in the
flat gradient (`out=`). What it knows of each activation comes from the one table,
`deepsets.models.activation.ACTIVATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import torch
from torch import nn

from deepsets.engine.losses import per_model
from deepsets.models.activation import Activation, activation_of

Key = tuple[object, ...]  # what models must share to train as one stack
Step = Callable[
    [
        Iterator[torch.Tensor],
        Iterator[torch.Tensor],
        torch.Tensor,
        torch.Tensor,
        torch.Tensor | None,
    ],
    torch.Tensor,
]  # (weights, their gradients to fill, X (K, B, N, F), y (K, B), mask) -> losses (K,)

# The stacked forms may use each activation's fast form (the table's `fast`, `fast_`). Off:
# FastTanh measured 1.42x on the CPU of the 2026-11-29 record but 0.90x (a loss) on this
# Intel Xeon (benchmarks/README.md, "Levers"), so it is no gain on every CPU.
FAST_TANH = False


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

    def step(self, loss: str) -> Step | None:
        """The stack's hand-written training step on `loss`, or None (through autograd)."""
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
    elementwise layers after each, on x (K, D, M).

    With `sizes` (the widths between the Linear layers) narrower members are zero-padded to
    them (exact when every activation is 0 at 0: see `families.mlp.padded_sizes`).
    """

    def __init__(self, seqs: Sequence[nn.Sequential], sizes: Sequence[int] | None = None) -> None:
        self.members: list[list[torch.Tensor]] = []  # per stacked tensor, each member's own
        gaps = [split_at_linears(seq, self.members) for seq in seqs]  # per member, per Linear
        self.gaps = gaps[0]  # the members share their elementwise layers (their stack key)
        self.shapes = [tuple(t.shape) for ts in self.members for t in ts[:1]]  # (out, in | 1)
        if sizes is not None:  # stacked (out, in) and (out, 1) of each Linear, padded
            pairs = zip(sizes[:-1], sizes[1:], strict=True)
            self.shapes = [s for a, b in pairs for s in ((b, a), (b, 1))]
        self.ops = [[fast(m) for m in gap] for gap in self.gaps]  # per Linear

    def init(self) -> list[torch.Tensor]:
        stacked = []
        for ts, shape in zip(self.members, self.shapes, strict=True):
            s = ts[0].new_zeros(len(ts), *shape)  # (K, out, in | 1): padding stays 0
            for k, t in enumerate(ts):
                s[k, : t.shape[0], : t.shape[1]] = t.detach()
            stacked.append(s)
        return stacked

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
                t.copy_(stacked[k, : t.shape[0], : t.shape[1]])

    def activations(self) -> list[Activation | None] | None:
        """The hand-written activation after each Linear (None: none), or None if a layer
        has no hand-written form (no derivative in the table, or two after one Linear)."""
        out: list[Activation | None] = []
        for gap in self.gaps:
            known = [activation_of(m) for m in gap if type(m) is not nn.Identity]
            if len(known) > 1 or any(a is None or a.derivative is None for a in known):
                return None
            out.append(known[0] if known else None)
        return out


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


def activate(z: torch.Tensor, a: Activation | None) -> torch.Tensor:
    """The activation `a` of a fresh z, in place (its fast form when FAST_TANH)."""
    if a is None:
        return z
    f = a.fast_ if FAST_TANH and a.fast_ is not None else a.apply_
    assert f is not None  # `activations` admitted only hand-written ones
    return f(z)


def derivative(g: torch.Tensor, y: torch.Tensor, a: Activation | None) -> torch.Tensor:
    """dL/dz from dL/dy and the output y = f(z) of the activation `a` (autograd's formulas)."""
    if a is None:
        return g
    assert a.derivative is not None
    return a.derivative(g, y)


class Tape:
    """The Linear layers' inputs and weights, and the last output, kept for the backward."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []  # (K, D_in, M) per Linear
        self.outputs: list[torch.Tensor] = []  # (K, D_out, M) per Linear, after its activation
        self.weights: list[torch.Tensor] = []  # (K, D_out, D_in) per Linear


Acts = Sequence[Activation | None]


def forward(
    acts: Acts, x: torch.Tensor, params: Iterator[torch.Tensor], tape: Tape
) -> torch.Tensor:
    """x (K, D, M) -> (K, D', M) through len(acts) stacked Linear layers, recorded on `tape`."""
    for a in acts:
        W, b = next(params), next(params)  # (K, out, in), (K, out, 1)
        tape.inputs.append(x)
        tape.weights.append(W)
        x = activate(torch.baddbmm(b, W, x), a)  # (K, out, M)
        tape.outputs.append(x)
    return x


def backward(
    acts: Acts, tape: Tape, g: torch.Tensor, grads: Iterator[torch.Tensor], need_input: bool
) -> torch.Tensor | None:
    """From g = dL/d(output) (K, D', M): the weights' gradients written into the next
    2 * len(acts) tensors of `grads` (forward order); dL/d(input) (K, D, M) if `need_input`."""
    gs = [next(grads) for _ in range(2 * len(acts))]
    for j in reversed(range(len(acts))):
        g = derivative(g, tape.outputs[j], acts[j])  # (K, out, M)
        torch.bmm(g, tape.inputs[j].transpose(1, 2), out=gs[2 * j])  # (K, out, in)
        torch.sum(g, dim=2, keepdim=True, out=gs[2 * j + 1])  # (K, out, 1)
        if j == 0 and not need_input:
            return None
        g = torch.bmm(tape.weights[j].transpose(1, 2), g)  # (K, in, M)
    return g


HAND_LOSSES = ("bce", "mse", "mae")  # the losses whose gradient loss_and_grad writes out


def loss_and_grad(loss: str, p: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each model's mean loss (K,) of outputs p (K, B) against y, and dL/dp (K, B), with
    autograd's formulas (binary cross-entropy's denominator clamped at 1e-12 as torch's)."""
    per = per_model(loss)(p, y)  # (K,)
    scale = 1.0 / p[0].numel()  # the mean's gradient
    if loss == "bce":
        return per, (p - y).mul_(scale).div_(((1 - p) * p).clamp_(min=1e-12))
    if loss == "mse":
        return per, (p - y).mul_(2 * scale)
    return per, (p - y).sign_().mul_(scale)  # mae


def head(loss: str, out: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The losses (K,) of the stacked outputs out (K, 1, B) (both families end with one unit)
    and dL/d(out) (K, 1, B)."""
    per, dp = loss_and_grad(loss, out[:, 0], y)  # (K,), (K, B)
    return per, dp.unsqueeze(1)
