"""Train a run's stacks as tasks of an executor: one task per stack, results written back in order.

Shape letters: K models of the run, k members of one stack, T steps.

The stacks are those `partition` forms for the in-process workers, so on a CPU the numbers are
identical to the last bit. A task gets copies of its stack's members and of their data and
generators (`Data.subset`), so the caller's are not changed until the results are written
back, and sends back their trained weights, losses and snapshot copies. Any
`concurrent.futures.Executor` runs it (a process pool, a Dask client: `deepsets.cluster`);
`using(executor)` makes one the default of every call in a block. When no task finishes within
`Engine.timeout` seconds (by default `task_timeout`: a minute, or ten times the cost model's
estimate of the largest task, or of the slowest one so far, if longer), or a task comes back
with anything but its results, the run stops with an `ExecutorFailed` naming the executor.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, wait
from contextvars import ContextVar
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from deepsets.engine.families import stack_models
from deepsets.engine.loop import fit
from deepsets.engine.parts import Part, cost
from deepsets.engine.settings import EngineSettings, torch_threads
from deepsets.engine.sources import Data
from deepsets.training import progress_bar

# No task finished for a minute (a pool's first task starts a process that imports torch)...
TIMEOUT_SECONDS = 60.0
TIMEOUT_FACTOR = 10.0  # ... or for ten times the largest task's estimate, or the slowest's time
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


class ExecutorFailed(RuntimeError):
    """The executor did not train a group of models: it stalled, lost or garbled a task (the
    command line reports it as an error)."""


class GroupLost(ExecutorFailed):
    """A group of models could not be trained: its workers kept dying."""


@dataclass(frozen=True)
class Group:
    """What one task trains: a stack's members (in stack order), their data and settings."""

    models: list[nn.Module]
    data: Data
    settings: EngineSettings


@dataclass(frozen=True)
class Trained:
    """What one task sends back: weights, losses (k, T), snapshot copies by step, seconds."""

    weights: list[dict[str, torch.Tensor]]
    losses: np.ndarray
    snapshots: dict[int, list[nn.Module]]
    seconds: float


def train_group(group: Group) -> Trained:
    """Train one stack (the task, wherever the executor runs it) on the settings' threads."""
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


def run_groups(
    executor: Executor,
    models: Sequence[nn.Module],
    parts: Sequence[Part],
    data: Data,
    settings: EngineSettings,
    snapshots: dict[int, dict[int, nn.Module]],
    N: int,
    timeout: float | None = None,
) -> np.ndarray:
    """Submit every stack of `parts` (of sets of N objects) to `executor`, write the trained
    weights back into `models` and the copies into `snapshots` (step -> model index -> copy);
    returns the losses (K, T). When no task finishes within `timeout` seconds (None:
    `task_timeout`), an ExecutorFailed; on any error or interruption the unfinished tasks are
    cancelled."""
    progress, task_settings = settings.progress, replace(settings, progress=False)
    groups = [index for part in parts for _, index in part]  # one task per stack
    largest = max(cost([models[i] for i in g], settings.batch_size, N) for g in groups)
    estimate = settings.steps * largest  # seconds of the largest task, by the cost model
    futures: dict[Future[Trained], list[int]] = {}
    losses = np.empty((len(models), settings.steps))
    try:
        for index in groups:
            # copies, as a process pool would pickle: never the caller's modules in place
            task = Group([copy.deepcopy(models[i]) for i in index],
                         own_generators(data.subset(index)), task_settings)  # fmt: skip
            futures[submitted(executor, task)] = index
        pending, slowest = set(futures), 0.0
        with progress_bar(len(groups), "train", progress, unit="groups") as bar:
            while pending:
                limit = task_timeout(estimate, slowest) if timeout is None else timeout
                done, pending = wait(pending, limit, FIRST_COMPLETED)
                if not done:
                    raise stalled(executor, len(pending), len(groups), limit)
                for future in done:
                    trained = result(future, executor, settings.steps, len(futures[future]))
                    write_back(trained, futures[future], models, losses, snapshots)
                    slowest = max(slowest, trained.seconds)
                    bar.update()
    finally:
        for future in futures:
            future.cancel()  # a no-op for finished tasks
    return losses


def own_generators(data: Data) -> Data:
    """`data` with copies of its generators: a task never advances the caller's."""
    gens = getattr(data, "gens", None)
    if not gens:
        return data
    data = copy.copy(data)  # the tensors of given training sets stay shared, not copied
    data.gens = [copy.deepcopy(g) for g in gens]
    return data


def task_timeout(estimate: float, slowest: float) -> float:
    """Seconds to wait for the executor's next finished task, by default: TIMEOUT_SECONDS, or
    TIMEOUT_FACTOR times the largest task's `estimate` or the slowest finished task's seconds."""
    return max(TIMEOUT_SECONDS, TIMEOUT_FACTOR * max(estimate, slowest))


def name_of(executor: Executor) -> str:
    return type(executor).__name__


def submitted(executor: Executor, task: Group) -> Future[Trained]:
    """`executor.submit(train_group, task)`, checked to be a Future."""
    future = executor.submit(train_group, task)
    if not isinstance(future, Future):
        raise ExecutorFailed(
            f"the executor {name_of(executor)}'s submit returned {type(future).__name__}, not a "
            "concurrent.futures.Future; nothing was trained"
        )
    return future


def stalled(executor: Executor, left: int, total: int, limit: float) -> ExecutorFailed:
    """The error of an executor that finished no task within `limit` seconds."""
    return ExecutorFailed(
        f"the executor {name_of(executor)} finished none of its {left} remaining task(s) (of "
        f"{total}) within {limit:.3g} s: its workers are stuck, busy or gone. The unfinished "
        "tasks were cancelled and their models left as they were (Engine(timeout=SECONDS) "
        "sets the wait)"
    )


def result(future: Future[Trained], executor: Executor, steps: int, k: int) -> Trained:
    """The future's result, checked (k models, `steps` steps); GroupLost for Dask's KilledWorker."""
    try:
        trained = future.result()
    except CancelledError:
        raise ExecutorFailed(f"the executor {name_of(executor)} cancelled a task") from None
    except Exception as e:
        if type(e).__name__ != "KilledWorker":  # distributed.scheduler's, not imported here
            raise
        raise GroupLost(
            "a group of models was lost with its worker on every attempt (Dask's "
            "distributed.scheduler.allowed-failures); nothing was written: check the workers' "
            f"memory and logs ({e})"
        ) from e
    fits = isinstance(trained, Trained) and len(trained.weights) == k
    if not fits or np.shape(trained.losses) != (k, steps):
        raise ExecutorFailed(
            f"a task of the executor {name_of(executor)} returned {type(trained).__name__} "
            f"{trained!r:.60}, not the results of its {k} model(s) (the Trained that "
            "train_group returns): an executor must return what the submitted function returns"
        )
    return trained


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
