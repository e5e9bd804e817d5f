"""Hand-written training steps of the stacked families: forward, loss and gradients, no autograd.

Shape letters: K members, B sets, N objects, F features, D units, M rows (B, or B*N objects),
L latent features.

A stack of tiny models spends its step on per-op overhead, and autograd adds its own to every op:
recording the graph, running it node by node, accumulating into leaves. The stacked DeepSet and
MLP use a handful of ops whose derivatives are known (baddbmm; tanh, relu, sigmoid; sum, mean and
max pooling, with masks; the three losses), so their step is written out here. The forward keeps
what the backward needs (each layer's input and output); the backward is autograd's derivative
formulas, op for op, and writes every weight's gradient straight into its place in the flat
gradient (`out=`). tests/test_backprop.py checks the gradients against autograd in float64. A
stack with any other layer (`step_of` returns None) trains through autograd (engine/loop.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from deepsets.engine import activations
from deepsets.engine.losses import per_model
from deepsets.engine.stacks import Stack, StackedDeepSet, StackedLayers, StackedMLP

aten = torch.ops.aten

# Hand-written steps for the stacked DeepSets and MLPs; measured gain in benchmarks/README.md,
# "Levers" (autograd's own cost per op is most of a tiny stack's step).
HAND_WRITTEN = True

KINDS: dict[type[nn.Module], str] = {
    nn.Tanh: "tanh", activations.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid"
}  # fmt: skip
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


def step_of(stack: Stack, loss: str) -> Step | None:
    """The hand-written training step of `stack` on `loss`, or None if it has none."""
    if not HAND_WRITTEN or loss not in ("bce", "mse", "mae"):  # the losses written out here
        return None
    if isinstance(stack, StackedMLP):
        acts = kinds(stack.layers)
        return None if acts is None else mlp_step(acts, loss)
    if isinstance(stack, StackedDeepSet) and len(stack.pool_runs) == 1:
        phi, rho = kinds(stack.phi), kinds(stack.rho)
        if phi is not None and rho is not None:
            return deepset_step(phi, rho, stack.poolings[0], loss)
    return None


def kinds(layers: StackedLayers) -> list[str | None] | None:
    """The activation after each Linear (None: none), or None if one is not hand-written."""
    if len(layers.runs) != 1:
        return None
    out: list[str | None] = []
    for (ops,) in layers.ops:
        known = [KINDS.get(type(m)) for m in ops if type(m) is not nn.Identity]
        if len(known) > 1 or None in known:
            return None
        out.append(known[0] if known else None)
    return out


def activate(z: torch.Tensor, kind: str | None) -> torch.Tensor:
    """The activation `kind` of a fresh z, in place."""
    if kind == "tanh":  # as engine/activations.py: the sigmoid identity on large tensors
        if activations.FAST_TANH and z.numel() >= activations.FAST_FROM_IN_PLACE:
            return activations.tanh_(z)
        return z.tanh_()
    if kind == "relu":
        return z.relu_()
    return z.sigmoid_() if kind == "sigmoid" else z


def derivative(g: torch.Tensor, y: torch.Tensor, kind: str | None) -> torch.Tensor:
    """dL/dz from dL/dy and the output y = f(z) of the activation `kind` (autograd's formulas)."""
    if kind == "tanh":
        return aten.tanh_backward(g, y)  # type: ignore[no-any-return]
    if kind == "relu":
        return aten.threshold_backward(g, y, 0)  # type: ignore[no-any-return]
    if kind == "sigmoid":
        return aten.sigmoid_backward(g, y)  # type: ignore[no-any-return]
    return g


class Tape:
    """The Linear layers' inputs and weights, and the last output, kept for the backward."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []  # (K, D_in, M) per Linear
        self.outputs: list[torch.Tensor] = []  # (K, D_out, M) per Linear, after its activation
        self.weights: list[torch.Tensor] = []  # (K, D_out, D_in) per Linear


def forward(
    acts: Sequence[str | None], x: torch.Tensor, params: Iterator[torch.Tensor], tape: Tape
) -> torch.Tensor:
    """x (K, D, M) -> (K, D', M) through len(acts) stacked Linear layers, recorded on `tape`."""
    for kind in acts:
        W, b = next(params), next(params)  # (K, out, in), (K, out, 1)
        tape.inputs.append(x)
        tape.weights.append(W)
        x = activate(torch.baddbmm(b, W, x), kind)  # (K, out, M)
        tape.outputs.append(x)
    return x


def backward(
    acts: Sequence[str | None],
    tape: Tape,
    g: torch.Tensor,
    grads: Iterator[torch.Tensor],
    need_input: bool,
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


def loss_and_grad(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    loss: str,
    p: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each model's mean loss (K,) of outputs p (K, B) against y, and dL/dp (K, B), with
    autograd's formulas (binary cross-entropy's denominator clamped at 1e-12 as torch's)."""
    per = criterion(p, y)  # (K,)
    scale = 1.0 / p[0].numel()  # the mean's gradient
    if loss == "bce":
        return per, (p - y).mul_(scale).div_(((1 - p) * p).clamp_(min=1e-12))
    if loss == "mse":
        return per, (p - y).mul_(2 * scale)
    return per, (p - y).sign_().mul_(scale)  # mae


def head(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    loss: str,
    out: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The losses (K,) of the stacked outputs out (K, 1, B) (both families end with one unit)
    and dL/d(out) (K, 1, B)."""
    per, dp = loss_and_grad(criterion, loss, out[:, 0], y)  # (K,), (K, B)
    return per, dp.unsqueeze(1)


def mlp_step(acts: list[str | None], loss: str) -> Step:
    """The training step of a StackedMLP whose Linear layers are followed by `acts`."""
    criterion = per_model(loss)

    def step(
        params: Iterator[torch.Tensor],
        grads: Iterator[torch.Tensor],
        X: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        tape = Tape()
        out = forward(acts, X.reshape(K, B, N * F).transpose(1, 2), params, tape)  # (K, D', B)
        per, g = head(criterion, loss, out, y)
        backward(acts, tape, g, grads, need_input=False)
        return per

    return step


def deepset_step(phi: list[str | None], rho: list[str | None], kind: str, loss: str) -> Step:
    """The training step of a StackedDeepSet: phi on every object, `kind` pooling, rho."""
    criterion = per_model(loss)

    def step(
        params: Iterator[torch.Tensor],
        grads: Iterator[torch.Tensor],
        X: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        at_phi, at_rho = Tape(), Tape()
        h = forward(phi, X.reshape(K, B * N, F).transpose(1, 2), params, at_phi)  # (K, L, B*N)
        L = h.shape[1]
        pooling = Pooling(h.view(K, L, B, N), mask, kind)
        out = forward(rho, pooling.z, params, at_rho)  # (K, D', B)
        per, g = head(criterion, loss, out, y)
        phi_grads = [next(grads) for _ in range(2 * len(phi))]
        gz = backward(rho, at_rho, g, grads, need_input=True)
        assert gz is not None
        backward(phi, at_phi, pooling.pullback(gz).view(K, L, B * N), iter(phi_grads), False)
        return per

    return step


class Pooling:
    """Pooling over the objects, as models/pooling.py's `pool`, with its derivative.

    h (K, L, B, N), mask (K, B, N) or None: z (K, L, B); `pullback` maps dL/dz to dL/dh.
    """

    def __init__(self, h: torch.Tensor, mask: torch.Tensor | None, kind: str) -> None:
        self.kind, self.shape = kind, h.shape
        self.m = None if mask is None else mask.unsqueeze(1)  # (K, 1, B, N)
        N = h.shape[-1]
        if kind == "max":
            self.h = h if self.m is None else h.masked_fill(~self.m, float("-inf"))
            self.z = self.h.amax(dim=-1) if N else h.new_zeros(h.shape[:3])  # (K, L, B)
            if self.m is not None and N:  # empty sets pool to 0
                self.z = torch.where(self.m.any(dim=-1), self.z, torch.zeros_like(self.z))
            return
        hm = h if self.m is None else h.masked_fill(~self.m, 0.0)
        self.z = hm.sum(dim=-1)  # (K, L, B)
        self.count: torch.Tensor | float = 1.0
        if kind == "mean":
            self.count = max(N, 1) if self.m is None else self.m.sum(dim=-1).clamp(min=1)
            self.z = self.z / self.count

    def pullback(self, g: torch.Tensor) -> torch.Tensor:
        """dL/dz (K, L, B) -> dL/dh (K, L, B, N)."""
        if self.kind == "max":
            if self.m is not None:
                g = g.masked_fill(~self.m.any(dim=-1), 0.0)
            eq = self.h == self.z.unsqueeze(-1)  # (K, L, B, N): where the max is, ties shared
            return (g / eq.sum(dim=-1).clamp_(min=1)).unsqueeze(-1) * eq  # empty sets: none
        if self.kind == "mean":
            g = g / self.count
        full = g.unsqueeze(-1).expand(self.shape)  # (K, L, B, N)
        return full.contiguous() if self.m is None else full.masked_fill(~self.m, 0.0)
