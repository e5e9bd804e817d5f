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

import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepsets.engine.loop import fit
from deepsets.engine.parts import Part
from deepsets.engine.sources import Data
from deepsets.engine.stacks import stack_models


@dataclass(frozen=True)
class Group:
    """What one task trains: a stack's members (in stack order) and their data source."""

    models: list[nn.Module]
    data: Data
    steps: int
    lr: float
    loss: str
    snapshots: tuple[int, ...]
    threads: int


@dataclass(frozen=True)
class Trained:
    """What one task sends back: the members' trained weights, losses (k, T), snapshot copies
    by step (k each, in eval mode) and the seconds the task trained."""

    weights: list[dict[str, torch.Tensor]]
    losses: np.ndarray
    snapshots: dict[int, list[nn.Module]]
    seconds: float


def train_group(group: Group) -> Trained:
    """Train one stack (the task, run wherever the executor runs it) on `group.threads`
    torch threads; the caller's setting is restored."""
    from deepsets.training import torch_threads  # the training module imports this one

    start = time.perf_counter()
    with torch_threads(group.threads):
        stacks = stack_models(group.models)
        if len(stacks) != 1 or stacks[0][1] != list(range(len(group.models))):
            raise ValueError("a group must hold the members of one stack, in stack order")
        copies: dict[int, dict[int, nn.Module]] = {s: {} for s in group.snapshots}
        losses = fit(stacks, group.data, group.steps, group.lr, False, copies, group.loss)
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
    settings: tuple[int, float, str, tuple[int, ...], int],
    progress: bool,
    snapshots: dict[int, dict[int, nn.Module]],
) -> np.ndarray:
    """Submit every stack of `parts` to `executor`, write the trained weights back into
    `models` and the snapshot copies into `snapshots` (step -> model index -> copy); returns
    the losses (K, T). `settings` are steps, lr, loss, snapshot steps and torch threads.

    A progress bar counts finished stacks. On any error or interruption the tasks not yet
    finished are cancelled before it propagates.
    """
    steps = settings[0]
    groups = groups_of(parts)
    futures: dict[Future[Trained], list[int]] = {}
    losses = np.empty((len(models), steps))
    try:
        for index in groups:
            task = Group([models[i] for i in index], data.subset(index), *settings)
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
