"""The engine's knobs (`Engine`), its settings for one training call, its workers and torch's
threads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn

from deepsets.checks import positive_float, positive_int

# torch's intra-op threads during training by default: tiny models gain little from a second
# one and lose badly when it waits for a busy core; the cores go to the engine's workers
# instead (benchmarks/README.md, "Threads and workers").
TORCH_THREADS = 1


@dataclass(frozen=True, eq=False)
class Engine:
    """How `train_many` and `train_on` run, never what they compute: the same numbers on any
    of these (snapshots only keep copies of the models partway)."""

    workers: int | None = None
    """Workers that share out the stacks on a CPU (on a GPU one); None: `resolve_workers`."""
    threads: int | None = None
    """torch's CPU threads in every worker; None: TORCH_THREADS. The caller's are restored."""
    progress: bool | None = None
    """Show a tqdm bar; None shows one only on a terminal."""
    executor: Executor | None = None
    """Train each stack as one task of this `concurrent.futures.Executor` (`engine.remote`);
    None: `engine.remote.current_executor()`, and when that is None too, in this process."""
    timeout: float | None = None
    """Seconds to wait for the executor's next finished task before the call stops with an
    `ExecutorFailed` naming it; None: `engine.remote.task_timeout`, which scales with the work."""
    snapshots: dict[int, list[nn.Module]] | None = None
    """A dict whose keys are steps (1..steps); each value is set to copies of the models (in
    eval mode) as they were after that many steps, from the same run."""

    def __post_init__(self) -> None:
        if self.timeout is not None:
            positive_float(self.timeout, "timeout")


@dataclass(frozen=True)
class EngineSettings:
    """How the engine trains the models of one call (`train_many`, `train_on`)."""

    steps: int
    batch_size: int
    lr: float = 1e-3
    loss: str = "bce"
    """One of `deepsets.engine.losses.LOSSES`."""
    target: tuple[int, ...] | None = (1,)
    """The shape of one set's output (None: any the loss takes)."""
    snapshots: tuple[int, ...] = ()
    """Steps after which copies of the models are kept, ascending."""
    threads: int = TORCH_THREADS
    workers: int = 1
    progress: bool = False


# The engine's workers by default: the cores this process may use (`cores`), unless this
# environment variable says how many; with EVERY_CORE off, one (benchmarks/README.md, "Levers").
WORKERS_VARIABLE = "DEEPSETS_WORKERS"
EVERY_CORE = True
_WORKERS: ContextVar[int | None] = ContextVar("deepsets_workers", default=None)


def cores() -> int:
    """The CPU cores this process may run on: its affinity mask (`os.process_cpu_count` on
    Python 3.13+, `os.sched_getaffinity` before), else every core of the machine."""
    if hasattr(os, "process_cpu_count"):
        return int(os.process_cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def env_workers() -> int | None:
    """The workers DEEPSETS_WORKERS asks for (None when it is unset or empty); a ValueError
    naming the variable when it is not a positive integer."""
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(
            f"the environment variable {WORKERS_VARIABLE} must be a positive integer (the "
            f"engine's worker processes), got {text!r}"
        )
    return int(text)


@contextlib.contextmanager
def using_workers(workers: int | None) -> Iterator[None]:
    """Train the block's `train_many`/`train_on` calls on `workers` workers by default (None:
    as outside the block); a call's own `workers=` still wins."""
    token = _WORKERS.set(_WORKERS.get() if workers is None else positive_int(workers, "workers"))
    try:
        yield
    finally:
        _WORKERS.reset(token)


def resolve_workers(workers: object = None, threads: int = TORCH_THREADS) -> int:
    """The workers of a training call on a CPU: `workers` if given, else the enclosing
    `using_workers`'s, else DEEPSETS_WORKERS, else the cores this process may use divided by
    torch's `threads` a worker (at least 1). The number changes the time, never a number."""
    if workers is not None:
        return positive_int(workers, "workers")
    chosen = _WORKERS.get()
    if chosen is None:
        chosen = env_workers()
    if chosen is not None:
        return chosen
    return max(1, cores() // threads) if EVERY_CORE else 1


def check_threads(threads: object) -> int:
    """torch's CPU threads for training: TORCH_THREADS for None, else a positive integer."""
    return TORCH_THREADS if threads is None else positive_int(threads, "threads")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch on `n` CPU threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
