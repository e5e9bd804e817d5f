"""Which executor the engine trains on, and how it reports an executor that failed it.

`using(executor)` makes `executor` the default of every `train_many`/`train_on` call in the
block (`current_executor`); `deepsets.cluster` opens a Dask session through it, and
`engine.remote` runs the stacks as its tasks. `ExecutorFailed` is what a run raises when the
executor stalled, lost or garbled a task; the command line reports it as an error. This module
imports no torch: the command imports it before any flag is checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Executor
from contextvars import ContextVar

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
    """The executor did not train a group of models: it stalled, lost or garbled a task."""


class GroupLost(ExecutorFailed):
    """A group of models could not be trained: its workers kept dying."""
