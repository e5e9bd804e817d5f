"""The engine's settings for one training call, torch's threads in it, and its workers: plain
values, checked before torch loads (`engine.threads` sets the threads)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepsets.checks import positive_int

if TYPE_CHECKING:
    from torch import nn

# torch's intra-op threads during training by default. Measured on a 2-core CPU
# (benchmarks/README.md): the whole study trains in about the same time on one thread as on two
# when the machine is idle, and up to ten times slower on two when anything else wants a core,
# as intra-op threads then wait for each other; the cores are used by the engine's workers
# instead. On CUDA the CPU only launches kernels, so one thread is enough there too.
TORCH_THREADS = 1


@dataclass(frozen=True, eq=False)
class Engine:
    """How `train_many` and `train_on` run, never what they compute: the same numbers on any
    of these (snapshots only keep copies of the models partway)."""

    workers: int | None = None
    """Worker processes (or threads) that share out the stacks on a CPU; None: the cores this
    process may use divided by `threads` (`resolve_workers`: DEEPSETS_WORKERS overrides that,
    as a study's `--workers` does); on a GPU always one."""
    threads: int | None = None
    """torch's CPU threads while it trains, in every worker; None: TORCH_THREADS (1). The
    caller's setting is restored afterwards."""
    progress: bool | None = None
    """Show a tqdm bar; None shows one only on a terminal."""
    executor: Executor | None = None
    """Train each stack as one task of this `concurrent.futures.Executor` (a process pool, a
    Dask client's executor: `deepsets.cluster`); None: `deepsets.cluster.current_executor()`,
    and when that is None too, in this process. Every task gets copies of the generator seeds
    (the caller's are not advanced); when no task finishes for an hour
    (`engine.remote.STALL_SECONDS`) the run stops with `engine.remote.ExecutorFailed`."""
    snapshots: dict[int, list[nn.Module]] | None = None
    """A dict whose keys are steps (1..steps); each value is set to copies of the models (in
    eval mode) as they were after that many steps, from the same run."""


@dataclass(frozen=True)
class EngineSettings:
    """How the engine trains the models of one call (`train_many`, `train_on`)."""

    steps: int
    """Adam steps."""
    batch_size: int
    """Sets a step (for the estimate of each stack's cost)."""
    lr: float = 1e-3
    """Adam's learning rate."""
    loss: str = "bce"
    """One of `deepsets.engine.losses.LOSSES`."""
    target: tuple[int, ...] | None = (1,)
    """The shape of one set's output (None: any the loss takes)."""
    snapshots: tuple[int, ...] = ()
    """Steps after which copies of the models are kept, ascending."""
    threads: int = TORCH_THREADS
    """torch's CPU threads in every worker (and every executor task) while it trains."""
    workers: int = 1
    """Worker processes (or threads) that share out the stacks on a CPU (`resolve_workers`)."""
    progress: bool = False
    """Show a progress bar."""


# The engine's workers by default: the cores this process may use (`cores`), unless this
# environment variable says how many; with EVERY_CORE off, one. Measured gain in
# benchmarks/README.md, "Levers" (a second worker on a 2-core CPU).
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
    """The workers of a training call on a CPU: `workers` (a positive integer) if given, else
    the enclosing `using_workers`'s, else DEEPSETS_WORKERS, else the cores this process may
    use divided by torch's `threads` a worker (at least 1), so that workers x threads fit the
    cores. Each worker is one core's share of the stacks; the number changes the time, never a
    number (engine/parts.py)."""
    if workers is not None:
        return positive_int(workers, "workers")
    chosen = _WORKERS.get()
    if chosen is None:
        chosen = env_workers()
    if chosen is not None:
        return chosen
    return max(1, cores() // threads) if EVERY_CORE else 1
