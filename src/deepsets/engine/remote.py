"""Train a run's stacks as tasks of an executor: one task per stack, results written back in order.

Shape letters: K models of the run, k members of one stack, T steps.

The stacks are those `partition` forms for the in-process workers, so every member trains in
the same stack, on the same data stream, as it would in this process: its arithmetic depends
only on its stack and its stream, and on a CPU the numbers are identical to the last bit. A
task gets only its stack's members and their data (`Data.subset`) and sends back their trained
weights, losses and snapshot copies; any `concurrent.futures.Executor` runs it (a process pool,
or a Dask `distributed` client, `deepsets.cluster`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from contextvars import ContextVar
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepsets.engine.families import stack_models
from deepsets.engine.loop import fit
from deepsets.engine.parts import Part
from deepsets.engine.settings import EngineSettings, torch_threads
from deepsets.engine.sources import Data

_CURRENT: ContextVar[Executor | None] = ContextVar("deepsets_executor", default=None)


def current_executor() -> Executor | None:
    """The executor `train_many` and `train_on` use by default: the innermost `using`'s."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(executor: Executor | None) -> Iterator[None]:
    """Train every stack of the block's `train_many`/`train_on` calls on `executor`."""
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
    token = _CURRENT.set(executor)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class Group:
    """What one task trains: a stack's members (in stack order), their data source and the
    engine's settings (without a progress bar)."""

    models: list[nn.Module]
    data: Data
    settings: EngineSettings


@dataclass(frozen=True)
class Trained:
    """What one task sends back: the members' trained weights, losses (k, T), snapshot copies
    by step (k each, in eval mode) and the seconds the task trained."""

    weights: list[dict[str, torch.Tensor]]
    losses: np.ndarray
    snapshots: dict[int, list[nn.Module]]
    seconds: float


def train_group(group: Group) -> Trained:
    """Train one stack (the task, run wherever the executor runs it) on the settings' torch
    threads; the caller's setting is restored."""
    start = time.perf_counter()
    with torch_threads(group.settings.threads):
        stacks = stack_models(group.models)
        if len(stacks) != 1 or stacks[0][1] != list(range(len(group.models))):
            raise ValueError("a group must hold the members of one stack, in stack order")
        copies: dict[int, dict[int, nn.Module]] = {s: {} for s in group.settings.snapshots}
        losses = fit(stacks, group.data, group.settings, copies)
    weights = [{n: p.detach() for n, p in m.state_dict().items()} for m in group.models]
    small = losses.astype(np.float32)  # float32 models' losses are float32 values: half the bytes
    losses = small if np.array_equal(small, losses) else losses
    kept = {s: [c[k] for k in range(len(group.models))] for s, c in copies.items()}
    return Trained(weights, losses, kept, time.perf_counter() - start)


def groups_of(parts: Sequence[Part]) -> list[list[int]]:
    """The model indices of every stack of `parts`, in stack order: one task each."""
    return [index for part in parts for _, index in part]


def run_groups(
    executor: Executor,
    models: Sequence[nn.Module],
    parts: Sequence[Part],
    data: Data,
    settings: EngineSettings,
    snapshots: dict[int, dict[int, nn.Module]],
) -> np.ndarray:
    """Submit every stack of `parts` to `executor`, write the trained weights back into
    `models` and the snapshot copies into `snapshots` (step -> model index -> copy); returns
    the losses (K, T).

    A progress bar (if `settings.progress`) counts finished stacks. On any error or
    interruption the tasks not yet finished are cancelled before it propagates.
    """
    progress, task_settings = settings.progress, replace(settings, progress=False)
    groups = groups_of(parts)
    futures: dict[Future[Trained], list[int]] = {}
    losses = np.empty((len(models), settings.steps))
    try:
        for index in groups:
            task = Group([models[i] for i in index], data.subset(index), task_settings)
            futures[executor.submit(train_group, task)] = index
        with tqdm(total=len(groups), desc="groups", disable=not progress, leave=False) as bar:
            for future in as_completed(futures):  # one per group: bounded by their count
                write_back(result(future), futures[future], models, losses, snapshots)
                bar.update()
    finally:
        for future in futures:
            future.cancel()  # a no-op for finished tasks
    return losses


class GroupLost(RuntimeError):
    """A group of models could not be trained: its workers kept dying."""


def result(future: Future[Trained]) -> Trained:
    """The future's result; a GroupLost when Dask gave the task up (KilledWorker)."""
    try:
        return future.result()
    except Exception as e:
        if type(e).__name__ != "KilledWorker":  # distributed.scheduler's, not imported here
            raise
        raise GroupLost(
            "a group of models was lost with its worker on every attempt (Dask's "
            "distributed.scheduler.allowed-failures); nothing was written: check the workers' "
            f"memory and logs ({e})"
        ) from e


def write_back(
    trained: Trained,
    index: list[int],
    models: Sequence[nn.Module],
    losses: np.ndarray,
    snapshots: dict[int, dict[int, nn.Module]],
) -> None:
    """Copy one task's results into the run: weights into models[index], losses, copies."""
    with torch.no_grad():
        for i, weights in zip(index, trained.weights, strict=True):
            models[i].load_state_dict(weights)
    losses[index] = trained.losses
    for s, kept in trained.snapshots.items():
        snapshots[s].update(zip(index, kept, strict=True))
