"""The stacked engine's entry points: `train_many` (the exercise's stream, many models at once)
and `train_on` (given training sets).

Contract: every model ends with the weights and losses that training it alone with the plain
loop (`deepsets.training.train`) gives, to rounding: in float64 to 1e-9 over 1000 steps; in
float32 to ~1e-6 over the first hundred steps, after which a DeepSet's escape from its ln 2
plateau amplifies rounding (tests/test_engine.py, test_train_on.py). The speed: models of one
architecture train as one stacked network (`engine.families`), the stacks are shared out over
a forked worker per core (`engine.parts`, `engine.forked`), the data are made a chunk of steps
at a time. The numbers depend neither on the workers nor on the executor (`engine.remote`).
A call may train on several data sources (`Feed`s): each forms its stacks apart, as if trained
alone, and the stacks of all share out the workers together.

Shape letters: K models, B sets, N objects, F features, *O the shape of one set's target.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from deepsets.checks import check_memory, check_training_args
from deepsets.data import CHUNK, check_data_memory
from deepsets.engine.checks import (
    check_executor,
    check_given_sets,
    check_losses_apply,
    check_models,
    check_set_sizes,
    check_snapshots,
)
from deepsets.engine.forked import Copies, forkable
from deepsets.engine.loop import fit
from deepsets.engine.parts import (
    Part,
    partition,
    run_parts,
    seconds,
    share_out,
    worth_forking,
)
from deepsets.engine.remote import current_executor, run_groups
from deepsets.engine.settings import (
    Engine,
    EngineSettings,
    check_threads,
    resolve_workers,
    torch_threads,
)
from deepsets.engine.sources import Data, Streams, TrainingSets
from deepsets.training import check_outputs, sample, show_progress, warn_if_diverged

Sets = tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]


def train_many(
    models: Sequence[nn.Module],
    steps: int = 4000,
    *,
    seeds: Sequence[torch.Generator | int | None],
    batch_size: int = 100,
    lr: float = 1e-3,
    n_objects: int | None = None,
    sizes: tuple[int, int] | Sequence[tuple[int, int] | None] | None = None,
    engine: Engine | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train every model as `train(model_k, steps, seed=seeds[k], ...)` would, all at once.

    Models of one architecture are stacked into one batched network (`engine.families`); any
    other module trains through its own forward in the same loop. Member k sees exactly the
    data `train` would give it (integer seeds) and ends as this module's contract says.

    Arguments:
        models: K networks mapping X (B, N, 1) to probabilities (B, 1), trained in place; on
            one device, of one dtype, distinct and sharing no parameter.
        steps, batch_size, lr, n_objects: as in `train`.
        seeds: K seeds (or generators) of the data streams; equal integer seeds share one
            stream, None draws a fresh one.
        sizes: as in `train` for every model, or one entry (None or (lo, hi)) per model.
        engine: how it runs (workers, threads, progress, executor, snapshots): `Engine`.

    Returns:
        The same K models, trained and in eval mode, and their losses (K, steps).
    """
    e = Engine() if engine is None else engine
    device, dtype = check_models(models, seeds)
    groups = check_set_sizes(n_objects, sizes, models)  # [(N, (lo, hi) or None, index)]
    check_training_args(steps, batch_size, lr)
    threads = check_threads(e.threads)
    s = EngineSettings(steps, batch_size, lr, threads=threads,
                       workers=resolve_workers(e.workers, threads),
                       progress=show_progress(e.progress))  # fmt: skip
    feeds = [stream_feed(index, seeds, N, pair, s, device, dtype) for N, pair, index in groups]
    return run_engine(models, feeds, s, e)


def stream_feed(
    index: list[int], seeds: Sequence[torch.Generator | int | None], N: int,
    sizes: tuple[int, int] | None, s: EngineSettings, device: torch.device, dtype: torch.dtype,
) -> Feed:  # fmt: skip
    """The models `index` and their data streams of sets of N objects (or of `sizes`)."""
    data = Streams([seeds[i] for i in index], s.batch_size, N, sizes, device, dtype)  # checks
    what = f"batch_size={s.batch_size} for {data.S} data stream(s)"
    check_data_memory(min(s.steps, CHUNK) * s.batch_size * data.S, N, what)  # a chunk of each
    return Feed(index, data, *sample(N, sizes, device, dtype))


def train_on(
    models: Sequence[nn.Module],
    sets: Sets,
    steps: int,
    *,
    lr: float = 1e-3,
    loss: str = "bce",
    batch_size: int | None = None,
    seeds: Sequence[torch.Generator | int] | None = None,
    engine: Engine | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train model k on its own given sets X[k], y[k], or all models on one shared X, y: the
    engine of `train_many` on given sets instead of the exercise's stream.

    Arguments:
        models: K networks mapping X (b, N, F) [and mask (b, N)] to outputs (b, *O), trained
            in place, as in `train_many`.
        sets: (X, y) or (X, y, mask). X: (K, B, N, F), one training set per model, or
            (B, N, F) shared by all K (not copied); float X takes the models' dtype, integer
            X (tokens) stays; finite values only. y: (K, B, *O) or (B, *O), e.g. (B, 1) labels
            in {0, 1} for loss="bce". mask: (K, B, N) or (B, N) booleans.
        steps: Adam steps.
        lr: as in `train`.
        loss: "bce" (probabilities), "mse" or "mae" (real outputs of y's shape), or another of
            `engine.losses.LOSSES`.
        batch_size: None trains on all B sets every step; b draws b of them with replacement
            every step, model k with its own generator seeds[k].
        seeds: K seeds (or generators) of those draws; default 0, 1, ..., K - 1.
        engine: as in `train_many`.

    Returns:
        The same K models, trained and in eval mode, and their losses (K, steps).
    """
    e = Engine() if engine is None else engine
    K = len(models) if isinstance(models, Sequence) else 0
    draws = list(range(K)) if seeds is None else seeds
    masked = isinstance(sets, tuple | list) and len(sets) == 3 and sets[2] is not None
    device, dtype = check_models(models, draws, masked=masked, fresh=False)
    X, y, mask = check_given_sets(models, sets, steps, lr, loss, batch_size)
    threads = check_threads(e.threads)
    X, y, mask = as_rows(X, y, mask, device)
    data = TrainingSets(X, y, mask, K, batch_size, draws, dtype)
    per_set = tuple(y.shape[2:]) if loss in ("bce", "mse", "mae") else None  # compared with y
    s = EngineSettings(
        steps, X.shape[1] if batch_size is None else batch_size, lr, loss, per_set,
        threads=threads, workers=resolve_workers(e.workers, threads),
        progress=show_progress(e.progress),
    )  # fmt: skip
    feed = Feed(list(range(K)), data, data.X[0, :2], None if mask is None else mask[0, :2])
    if per_set is None:
        outputs = check_outputs(models, feed.X, feed.mask, False, None)
        check_losses_apply(outputs, y[0, :2], loss)
    return run_engine(models, [feed], s, e)


def as_rows(
    X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """X, y, mask detached, on `device`, with a leading row axis (one row when shared)."""
    X, y = X.detach(), y.detach()
    if X.dim() == 3:  # shared by the K models: one row
        X, y = X.unsqueeze(0), y.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    return X.to(device), y.to(device), None if mask is None else mask.to(device)


def run_engine(
    models: Sequence[nn.Module], feeds: Sequence[Feed], s: EngineSettings, e: Engine
) -> tuple[list[nn.Module], np.ndarray]:
    """Check every model on its feed's sample input, then train them all as `s` says: the
    stacks of every feed shared out over the workers together, or each a task of the executor."""
    device = feeds[0].X.device
    executor = check_executor(current_executor() if e.executor is None else e.executor, device)
    s = replace(s, snapshots=tuple(check_snapshots(e.snapshots, s.steps)))
    check_memory(s.steps * len(models) * 16, f"steps={s.steps} for {len(models)} model(s)")
    for f in feeds:
        check_outputs([models[i] for i in f.index], f.X, f.mask, s.loss == "bce", s.target,
                      [f"models[{i}]" for i in f.index])  # fmt: skip
    for m in models:
        m.train()
    workers = s.workers if device.type == "cpu" else 1  # on a GPU one thread launches all
    if executor is not None:
        losses, copies = run_remote(executor, models, feeds, s, workers, e.timeout)
    else:
        parts = share_out(models, s.batch_size, [(f.index, f.N) for f in feeds], workers)
        fork = forkable(device, [seed for f in feeds for seed in f.data.seeds], s.threads)
        N = {i: f.N for f in feeds for i in f.index}  # model -> objects per set of its data
        work = seconds(parts, models, s.batch_size, N, s.steps)
        fork = fork and worth_forking(work)
        train = functools.partial(train_part, feeds=feeds, s=s)
        with torch_threads(s.threads):
            losses, copies = run_parts(parts, train, models, s.steps, work if fork else None)
    for step in s.snapshots:
        e.snapshots[step] = [copies[step][i] for i in range(len(models))]  # type: ignore[index]
    for m in models:
        m.eval()
    if s.loss == "bce":  # chance is ln 2 only for balanced labels
        warn_if_diverged(losses, s.lr)
    return list(models), losses


def run_remote(
    executor: Executor, models: Sequence[nn.Module], feeds: Sequence[Feed],
    s: EngineSettings, workers: int, timeout: float | None = None,
) -> tuple[np.ndarray, Copies]:  # fmt: skip
    """Every stack of every feed a task of `executor`; the losses (K, steps) and the copies."""
    losses = np.empty((len(models), s.steps))
    copies: Copies = {step: {} for step in s.snapshots}
    for f in feeds:
        own = [models[i] for i in f.index]
        parts = partition(own, s.batch_size, f.N, workers)
        kept: Copies = {step: {} for step in s.snapshots}
        losses[f.index] = run_groups(executor, own, parts, f.data, s, kept, f.N, timeout)
        for step in s.snapshots:
            copies[step].update({f.index[k]: m for k, m in kept[step].items()})
    return losses, copies


@dataclass(frozen=True, eq=False)
class Feed:
    """Some models of a call and what they train on."""

    index: list[int]
    """Their indices in the call's models (data row k is model index[k]'s)."""
    data: Data
    """Their data: a stream of sets, or given training sets."""
    X: torch.Tensor
    """A sample input (2, N, F) for the check of their outputs."""
    mask: torch.Tensor | None = None
    """Its mask (2, N), if the data are sets of varying size."""

    @property
    def N(self) -> int:
        """Objects per (padded) set."""
        return int(self.X.shape[1])


def train_part(
    part: Part, show: bool, feeds: Sequence[Feed], s: EngineSettings
) -> tuple[list[int], np.ndarray, Copies]:
    """Train one worker's stacks, one `fit` per feed; returns their model indices, losses
    (len(members), steps) and snapshot copies by model index."""
    torch.set_num_threads(s.threads)  # a forked worker's own setting, as this process's
    members = [i for _, index in part for i in index]
    at = {g: n for n, g in enumerate(members)}
    losses = np.empty((len(members), s.steps))
    copies: Copies = {t: {} for t in s.snapshots}
    for f in feeds:
        row = {g: k for k, g in enumerate(f.index)}  # model -> its row of the feed's data
        own = [(stack, index) for stack, index in part if index[0] in row]
        mine = [g for _, index in own for g in index]
        if not mine:
            continue
        local = {g: n for n, g in enumerate(mine)}
        kept: Copies = {t: {} for t in s.snapshots}
        stacks = [(stack, [local[g] for g in index]) for stack, index in own]
        data = f.data.subset([row[g] for g in mine])
        shown = replace(s, progress=s.progress and show)
        names = [f"models[{g}]" for g in mine]
        losses[[at[g] for g in mine]] = fit(stacks, data, shown, kept, names)
        for t in s.snapshots:
            copies[t].update({mine[k]: m for k, m in kept[t].items()})
    return members, losses, copies
