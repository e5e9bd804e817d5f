"""What the training loop trains on: the exercise's data streams, or given training sets.

Shape letters: T steps in a chunk, S distinct data rows, K models, B sets, b sets a step,
N objects, F features, *O the shape of one set's target (() for one number).

A source has `.rows` (model k -> its row of every chunk), `.S` rows, `.subset(members)` and
`.chunks(steps)`, which yields X (T, S, b, N, F), y (T, S, b, *O) and mask (T, S, b, N) or
None; a target (B, 1) is stored as (B,), as the stacks return their outputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from deepsets.checks import as_generator, is_int
from deepsets.data import CHUNK, chunks

Seed = int | torch.Generator | None
Chunk = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]  # X, y, mask of T steps
CHUNK_BYTES = 64 * 2**20  # at most this much of drawn batches is made at once


class Streams:
    """The training data of K models: model k sees what `deepsets.data.chunks(generator=seeds[k])`
    yields; models given the same integer seed share one stream, made once."""

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


class TrainingSets:
    """Given training sets: model k trains on X[k], y[k] (or all on one shared row), every
    step on all of them (full batch) or on `batch_size` drawn by its own generator. X, y, mask:
    (K|1, B, N, F), (K|1, B, *O), (K|1, B, N) or None; float X and y take `dtype`."""

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor | None,
        K: int,
        batch_size: int | None = None,
        seeds: Sequence[Seed] | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.X = X if dtype is None or not X.is_floating_point() else X.to(dtype)  # (K|1, B, N, F)
        y = y if dtype is None else y.to(dtype)
        self.y = y[..., 0] if y.shape[2:] == (1,) else y  # (K|1, B, *O)
        self.mask, self.K, self.batch_size = mask, K, batch_size  # (K|1, B, N) or None
        self.seeds = list(range(K)) if seeds is None else list(seeds)
        shared = X.shape[0] == 1 and K > 1
        if batch_size is None:  # full batch: model k reads row k, or row 0 when shared
            self.rows, self.S = ([0] * K, 1) if shared else (list(range(K)), K)
        else:  # every model draws its own batches
            self.rows, self.S = list(range(K)), K
            self.gens = [as_generator(s, X.device, "seeds") for s in self.seeds]

    def subset(self, members: Sequence[int]) -> TrainingSets:
        """The sets (and batch generators) of models `members` only (for a worker)."""

        def pick(t: torch.Tensor) -> torch.Tensor:  # a shared row stays shared
            return t if self.X.shape[0] == 1 else t[list(members)]

        mask = None if self.mask is None else pick(self.mask)
        seeds = [self.seeds[i] for i in members]
        return TrainingSets(pick(self.X), pick(self.y), mask, len(members), self.batch_size, seeds)

    def chunks(self, steps: int) -> Iterator[Chunk]:
        """Full batch: the same sets every step, as stride-0 views; else drawn batches."""
        if self.batch_size is None:
            yield from self._full(steps)
        else:
            yield from self._drawn(steps, self.batch_size)

    def _full(self, steps: int) -> Iterator[Chunk]:
        X, y, mask = self.X, self.y, self.mask  # (S, B, ...) each: S = 1 when shared
        if X.shape[0] != self.S:
            X, y = X.expand(self.S, *X.shape[1:]), y.expand(self.S, *y.shape[1:])
            mask = None if mask is None else mask.expand(self.S, *mask.shape[1:])
        for done in range(0, steps, CHUNK):
            t = min(CHUNK, steps - done)
            yield (
                X.expand(t, *X.shape),
                y.expand(t, *y.shape),
                None if mask is None else mask.expand(t, *mask.shape),
            )

    def _drawn(self, steps: int, b: int) -> Iterator[Chunk]:
        B = self.X.shape[1]
        per_step = self.K * b * self.X[0, 0].numel() * self.X.element_size()
        T_max = max(1, min(CHUNK, CHUNK_BYTES // max(per_step, 1)))
        for done in range(0, steps, T_max):
            t = min(T_max, steps - done)
            index = torch.stack(
                [torch.randint(B, (t, b), generator=g, device=g.device) for g in self.gens], 1
            )  # (T, K, b): model k's sets
            row = torch.arange(self.K, device=index.device).view(1, -1, 1)  # (1, K, 1)
            row = row if self.X.shape[0] > 1 else torch.zeros_like(row)
            mask = None if self.mask is None else self.mask[row, index]  # (T, K, b, N)
            yield self.X[row, index], self.y[row, index], mask


Data = Streams | TrainingSets  # what `fit` trains on
