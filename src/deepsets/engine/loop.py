"""The one training loop: Adam on binary cross-entropy, every stack of models at once.

Shape letters: T steps in a chunk, S distinct data streams, K models, B sets, N objects, F features.

Every stacked weight is a view into one flat leaf (P,): the backward of `split` is a single cat,
and Adam updates one tensor per step instead of one per parameter. Adam is elementwise and the
members share no weights, so each gets exactly the update its own Adam would give it; the loss
is the sum of the members' mean losses, so each gets its own gradient.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from deepsets.data import CHUNK, chunks
from deepsets.engine.stacks import Stack, twin
from deepsets.validate import as_generator, is_int

# One multi-tensor (foreach) Adam update of the flat parameter; a fused one measured 0.99x,
# 1.04x and 1.16x: within the noise (benchmarks/README.md, "Levers"), so the default stays.
ADAM: dict[str, bool | None] = {"foreach": True, "fused": None}

Seed = int | torch.Generator | None
Chunk = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]  # X, y, mask of T steps


class Streams:
    """The training data of K models: one stream per distinct seed, a chunk at a time.

    Model k sees the stream of seeds[k], exactly what `deepsets.data.stream(seed=seeds[k])`
    yields; models given the same integer seed share one stream, made once.
    """

    def __init__(
        self,
        seeds: Sequence[Seed],
        batch_size: int,
        n_objects: int,
        sizes: tuple[int, int] | None,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        # one stream per distinct integer seed or generator; None is a fresh stream each time
        keys: list[object] = [
            ("seed", s) if is_int(s) else ("fresh", k) if s is None else ("generator", id(s))
            for k, s in enumerate(seeds)
        ]
        distinct = list(dict.fromkeys(keys))  # (S,)
        self.rows = [distinct.index(key) for key in keys]  # (K,): model k -> its stream
        self.gens = [as_generator(seeds[keys.index(key)], device, "seeds") for key in distinct]
        self.S = len(self.gens)
        self.n_objects, self.sizes, self.device = n_objects, sizes, device
        self.batch_size, self.dtype, self.seeds = batch_size, dtype, list(seeds)

    def subset(self, members: Sequence[int]) -> Streams:
        """The streams of models `members` only, with their own generators (for a worker)."""
        seeds = [self.seeds[i] for i in members]
        return Streams(seeds, self.batch_size, self.n_objects, self.sizes, self.device, self.dtype)

    def chunks(self, steps: int) -> Iterator[Chunk]:
        """Yield X (T, S, B, N, F), y (T, S, B), mask (T, S, B, N) or None, until `steps`."""
        blocks = [
            chunks(steps, self.batch_size, n_objects=self.n_objects, sizes=self.sizes,
                   generator=g, device=self.device)
            for g in self.gens
        ]  # fmt: skip
        for parts in zip(*blocks, strict=True):
            X, y, *mask = (torch.stack(p, dim=1) for p in zip(*parts, strict=True))
            yield X.to(self.dtype), y[..., 0].to(self.dtype), (mask[0] if mask else None)


class FixedSets:
    """Full-batch training data: model k sees all of its own sets X[k], y[k] at every step."""

    def __init__(
        self,
        X: object,
        y: object,
        mask: object,
        K: int,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        if not isinstance(X, torch.Tensor) or X.dim() != 4 or X.shape[0] != K or X.shape[1] < 1:
            got = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
            raise ValueError(f"X must be a tensor (K, B, N, F) with K = {K} and B >= 1, got {got}")
        if not isinstance(y, torch.Tensor) or y.shape != (*X.shape[:2], 1):
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y must be a tensor (K, B, 1) = {(*X.shape[:2], 1)}, got {got}")
        if not bool(((y == 0) | (y == 1)).all()):
            raise ValueError("y must hold labels 0 or 1 only")
        if mask is not None and (
            not isinstance(mask, torch.Tensor)
            or mask.dtype != torch.bool
            or mask.shape != X.shape[:3]
        ):
            raise ValueError(f"mask must be a boolean tensor (K, B, N) = {tuple(X.shape[:3])}")
        self.X = X.to(device, dtype)  # (K, B, N, F)
        self.y = y[..., 0].to(device, dtype)  # (K, B)
        self.mask = None if mask is None else mask.to(device)  # (K, B, N)
        self.rows, self.S = list(range(K)), K

    def subset(self, members: Sequence[int]) -> FixedSets:
        """The sets of models `members` only (for a worker)."""
        index = torch.tensor(members, device=self.X.device)
        mask = None if self.mask is None else self.mask[index]
        y = self.y[index].unsqueeze(-1)  # (k, B, 1)
        return FixedSets(self.X[index], y, mask, len(members), self.X.device, self.X.dtype)

    def chunks(self, steps: int) -> Iterator[Chunk]:
        """The same full batch at every step, as stride-0 views (no copies)."""
        for done in range(0, steps, CHUNK):
            t = min(CHUNK, steps - done)
            mask = None if self.mask is None else self.mask.expand(t, *self.mask.shape)
            yield self.X.expand(t, *self.X.shape), self.y.expand(t, *self.y.shape), mask


Data = Streams | FixedSets  # what `fit` trains on: .rows (model -> row), .S rows, .chunks(steps)


def select(x: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor | None:
    """x's rows (dim 0) in `rows`; None stands for all of them in order (no copy)."""
    return x if x is None or rows is None else x.index_select(0, rows)


def fit(
    stacks: Sequence[tuple[Stack, list[int]]],
    data: Data,
    steps: int,
    lr: float,
    progress: bool,
    snapshots: dict[int, dict[int, nn.Module]] | None = None,
) -> np.ndarray:
    """Train every stack for `steps` steps; returns losses (K, steps), models in input order.

    `snapshots`: for each step s it has as a key, it is filled with copies of the models as they
    were after s steps, by model index.
    """
    inits = [t for stack, _ in stacks for t in stack.init()]
    shapes, numels = [t.shape for t in inits], [t.numel() for t in inits]
    flat = torch.cat([t.reshape(-1) for t in inits]).requires_grad_(True)  # (P,)
    opt = torch.optim.Adam([flat], lr=lr, foreach=ADAM["foreach"], fused=ADAM["fused"])
    order = [i for _, index in stacks for i in index]  # model index of each loss column
    S, device = data.S, flat.device
    rows = [_rows([data.rows[i] for i in index], S, device) for _, index in stacks]
    label_rows = torch.tensor([data.rows[i] for i in order], device=flat.device)  # (K,)
    history = flat.new_empty(steps, len(order))  # (steps, K), fetched once at the end

    def views(flat: torch.Tensor) -> Iterator[torch.Tensor]:
        """The stacked weights, in order, as views into flat (P,)."""
        return iter([w.view(s) for w, s in zip(torch.split(flat, numels), shapes, strict=True)])

    models = [stack for stack, _ in stacks]
    done = 0
    with tqdm(total=steps, desc="train", disable=not progress, leave=False) as bar:
        for X, y, mask in data.chunks(steps):
            y = y.index_select(1, label_rows)  # (T, K, B): every model's own labels
            for t in range(X.shape[0]):
                m = None if mask is None else mask[t]  # (S, B, N)
                params = views(flat)
                ps = [
                    s.forward(params, X[t] if r is None else X[t].index_select(0, r), select(m, r))
                    for s, r in zip(models, rows, strict=True)
                ]  # (K_s, B) per stack
                p = ps[0] if len(ps) == 1 else torch.cat(ps)  # (K, B)
                loss = F.binary_cross_entropy(p, y[t], reduction="none").mean(dim=1)  # (K,)
                opt.zero_grad(set_to_none=True)
                torch.autograd.backward(loss.sum())  # the one backward of the package
                opt.step()
                history[done + t] = loss.detach()
                if snapshots is not None and done + t + 1 in snapshots:
                    snapshots[done + t + 1].update(copies(stacks, views(flat.detach())))
            done += X.shape[0]
            bar.update(X.shape[0])
    trained = views(flat.detach())
    for stack, _ in stacks:
        stack.write_back(trained)
    losses = np.empty((len(data.rows), steps))
    losses[order] = history.T.cpu().numpy()
    return losses


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
