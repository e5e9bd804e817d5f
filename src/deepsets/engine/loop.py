"""The one training loop: Adam on a loss (binary cross-entropy by default), every stack of models
at once.

Shape letters: T steps in a chunk, S distinct data streams, K models, B sets, N objects, F features.

Every stacked weight is a view into one flat parameter (P,), and its gradient a view into one
flat gradient, so Adam updates one tensor per step instead of one per parameter. Stacked
DeepSets and MLPs write their gradients there by hand (their families' `step`); the other stacks
go through autograd on a leaf over their part (the backward of `split` is a single cat). Adam is
elementwise and the members share no weights, so each gets exactly the update its own Adam would
give it; the loss is the sum of the members' mean losses, so each gets its own gradient.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepsets.engine.adam import FlatAdam
from deepsets.engine.families import Stack, Step, twin
from deepsets.engine.families.layers import HAND_LOSSES
from deepsets.engine.losses import per_model
from deepsets.engine.settings import EngineSettings
from deepsets.engine.sources import Data

# Hand-written steps for the stacked DeepSets and MLPs (each family's `step`); measured gain in
# benchmarks/README.md, "Levers" (autograd's own cost per op is most of a tiny stack's step).
HAND_WRITTEN = True

# One hand-written Adam update of the flat parameter (engine/adam.py): the same weights as
# torch.optim.Adam, without its per-step Python; measured gain in benchmarks/README.md, "Levers".
FLAT_ADAM = True


def select(x: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor | None:
    """x's rows (dim 0) in `rows`; None stands for all of them in order (no copy)."""
    return x if x is None or rows is None else x.index_select(0, rows)


def hand_step(stack: Stack, loss: str) -> Step | None:
    """The stack's hand-written step on `loss` (its family's), None when HAND_WRITTEN is off or
    the loss is not one the steps write out (any other trains through autograd)."""
    return stack.step(loss) if HAND_WRITTEN and loss in HAND_LOSSES else None


def fit(
    stacks: Sequence[tuple[Stack, list[int]]],
    data: Data,
    s: EngineSettings,
    snapshots: dict[int, dict[int, nn.Module]] | None = None,
) -> np.ndarray:
    """Train every stack for `s.steps` steps with `s.loss` (a model's loss is its mean over
    everything but the model axis); returns losses (K, steps), models in input order.

    `snapshots`: for each step it has as a key, it is filled with copies of the models as they
    were after that many steps, by model index.
    """
    steps = s.steps
    flat = Flat(stacks, data, s.loss)
    opt = FlatAdam(flat.w, s.lr) if FLAT_ADAM else torch.optim.Adam([flat.w], s.lr, foreach=True)
    history = flat.w.new_empty(steps, len(flat.order))  # (steps, K), fetched once at the end
    done = 0
    with tqdm(total=steps, desc="train", disable=not s.progress, leave=False) as bar:
        for X, y, mask in data.chunks(steps):
            y = y.index_select(1, flat.label_rows)  # (T, K, B): every model's own labels
            for t in range(X.shape[0]):
                flat.step(X[t], y[t], None if mask is None else mask[t], history[done + t])
                opt.step()
                if snapshots is not None and done + t + 1 in snapshots:
                    snapshots[done + t + 1].update(copies(flat.stacks, iter(flat.weights)))
            done += X.shape[0]
            bar.update(X.shape[0])
    trained = iter(flat.weights)
    for stack, _ in flat.stacks:
        stack.write_back(trained)
    losses = np.empty((len(data.rows), steps))
    losses[flat.order] = history.T.cpu().double().numpy()  # numpy has no bfloat16
    return losses


class Flat:
    """Every stack's weights as views into one flat parameter `w` (P,), and one step's gradient
    `w.grad` (P,), which each step fills whole.

    Stacks with a hand-written step (engine/families) come first and write their gradients
    straight into theirs; the rest, the tail from `tail` on, go through autograd.
    """

    def __init__(self, stacks: Sequence[tuple[Stack, list[int]]], data: Data, loss: str) -> None:
        hand = [hand_step(stack, loss) for stack, _ in stacks]
        first = sorted(range(len(stacks)), key=lambda s: hand[s] is None)  # hand-written first
        self.stacks, self.hand = [stacks[s] for s in first], [hand[s] for s in first]
        self.n_hand = sum(f is not None for f in self.hand)
        inits = [stack.init() for stack, _ in self.stacks]
        shapes = [t.shape for ts in inits for t in ts]
        self.w = torch.cat(
            [x for ts in inits for t in ts for x in (t.reshape(-1), t.new_zeros(gap(t.numel())))]
        )  # (P,)
        self.w.grad = torch.zeros_like(self.w)  # (P,)
        self.weights, self.grads = views(self.w, shapes), views(self.w.grad, shapes)
        self.tail = sum(t.numel() + gap(t.numel()) for ts in inits[: self.n_hand] for t in ts)
        self.tail_shapes = shapes[sum(len(ts) for ts in inits[: self.n_hand]) :]
        self.order = [i for _, index in self.stacks for i in index]  # model of each loss column
        self.bounds = np.cumsum([0] + [len(index) for _, index in self.stacks]).tolist()
        self.rows = [
            _rows([data.rows[i] for i in ix], data.S, self.w.device) for _, ix in self.stacks
        ]
        self.label_rows = torch.tensor([data.rows[i] for i in self.order], device=self.w.device)
        self.criterion = per_model(loss)

    def step(
        self, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, out: torch.Tensor
    ) -> None:
        """One step's losses into out (K,) and gradients into w.grad, from X (S, B, N, F),
        y (K, B), mask (S, B, N) or None."""
        params, grads = iter(self.weights), iter(self.grads)
        per = []  # (K_s,) per stack, then (K_tail,)
        for s in range(self.n_hand):
            f, r, (a, b) = self.hand[s], self.rows[s], self.bounds[s : s + 2]
            assert f is not None
            per.append(f(params, grads, _select(X, r), y[a:b], select(mask, r)))
        if self.n_hand < len(self.stacks):
            per.append(self.autograd_step(X, y[self.bounds[self.n_hand] :], mask))
        torch.cat(per, out=out)

    def autograd_step(
        self, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """The tail's losses (K_tail,) and gradients, through autograd on a leaf over w[tail:]."""
        leaf = self.w.detach()[self.tail :].requires_grad_(True)  # shares w's memory
        params = iter(views(leaf, self.tail_shapes))
        ps = [
            stack.forward(params, _select(X, r), select(mask, r))
            for (stack, _), r in zip(
                self.stacks[self.n_hand :], self.rows[self.n_hand :], strict=True
            )
        ]  # (K_s, B) per stack
        per = self.criterion(ps[0] if len(ps) == 1 else torch.cat(ps), y)  # (K_tail,)
        torch.autograd.backward(per.sum())  # the one backward of the package
        assert leaf.grad is not None and self.w.grad is not None
        self.w.grad[self.tail :].copy_(leaf.grad)
        return per.detach()


# Every stacked tensor starts at a multiple of ALIGN values of the flat parameter, and so its
# gradient at one of the flat gradient: a bmm writing into memory at an address that is not a
# multiple of 16 bytes rounds differently (measured: 1e-5 apart), and a stack's numbers must not
# depend on the stacks before it (a stack trained alone, as a cluster task, gives the same).
ALIGN = 16


def gap(n: int) -> int:
    """Unused values after a tensor of n values, up to the next multiple of ALIGN."""
    return -n % ALIGN


def views(flat: torch.Tensor, shapes: Sequence[torch.Size]) -> list[torch.Tensor]:
    """The stacked weights, in order, as views into flat (P,) (one split: one cat backward)."""
    sizes = [n for s in shapes for n in (s.numel(), gap(s.numel()))]
    chunks = torch.split(flat, sizes)[::2]  # without the gaps
    return [w.view(s) for w, s in zip(chunks, shapes, strict=True)]


def _select(X: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    out = select(X, rows)
    assert out is not None
    return out


def copies(
    stacks: Sequence[tuple[Stack, list[int]]], trained: Iterator[torch.Tensor]
) -> dict[int, nn.Module]:
    """Copies of every stack's members with the weights `trained`, by model index, in eval mode."""
    out: dict[int, nn.Module] = {}
    for stack, index in stacks:
        members = [copy.deepcopy(m) for m in stack.models]
        twin(stack, members).write_back(trained)
        out.update(zip(index, (m.eval() for m in members), strict=True))
    return out


def _rows(rows: list[int], S: int, device: torch.device) -> torch.Tensor | None:
    """The stream rows of a stack's members as an index, or None when they are all S in order."""
    return None if rows == list(range(S)) else torch.tensor(rows, device=device)
