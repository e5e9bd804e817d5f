"""Training on a Dask cluster: the `--scheduler` setting, a run-scoped executor, retries counted.

`session("tcp://host:8786")` connects to a running Dask scheduler, `session("local:N")` starts
N worker processes on 127.0.0.1; either makes its executor the block's (`engine.remote.using`:
every stack of models one task) and closes what it opened on the way out. `distributed` is
imported only when a session opens. A task lost with its worker goes to another (Dask's
`allowed-failures`), one that raises is tried again up to RETRIES times; either way it trains
again from its initial weights and seeds, so a retry changes no number (`ClusterInfo.retries`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from deepsets.engine.remote import current_executor, using

T = TypeVar("T")

CONNECT_SECONDS = 5.0  # a scheduler that does not answer within this is reported unreachable
WORKERS_SECONDS = 20.0  # a scheduler without any worker after this is reported as such
RETRIES = 2  # a task that raises is tried again this many times (Dask's `retries=`)
MAX_LOCAL_WORKERS = 256  # local:N above this is surely a typo
ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")
# The loggers of the client's event-loop callbacks: a run stopped with tasks in flight logs a
# traceback for each cancelled future (a task's own error reaches the run through its future).
CALLBACK_LOGGERS = ("tornado.application", "asyncio")


@dataclass(frozen=True)
class ClusterSettings:
    """The setting every study shares: where its models train."""

    scheduler: str | None = None
    """Dask scheduler: tcp://HOST:PORT, or local:N worker processes; default: this process."""


@dataclass(frozen=True)
class ClusterInfo:
    """How a run used its cluster (metrics.json's `cluster`)."""

    scheduler: str
    """The address as given (`tcp://host:port` or `local:N`)."""
    workers: int
    """Workers connected when the run started."""
    groups: int
    """Tasks sent: one per stack of models (and per `train_many`/`train_on` call)."""
    retries: int
    """Extra attempts: a task sent to a worker again, after its worker was lost or it raised."""
    retried_groups: int
    """Tasks that needed more than one attempt."""
    task_seconds: float
    """Seconds the tasks spent training, summed over tasks (their workers' clocks)."""


def check_scheduler(scheduler: object, name: str = "scheduler") -> str | None:
    """None, `local:N` (1 <= N <= MAX_LOCAL_WORKERS) or `tcp://host:port`; else a ValueError."""
    if scheduler is None:
        return None
    if isinstance(scheduler, str) and (m := re.fullmatch(r"local:(\d+)", scheduler)):
        if 1 <= int(m[1]) <= MAX_LOCAL_WORKERS:
            return scheduler
    elif isinstance(scheduler, str) and ADDRESS.match(scheduler):
        if int(scheduler.rsplit(":", 1)[1]) < 65536:
            return scheduler
    raise ValueError(
        f"{name} must be a Dask scheduler's address tcp://HOST:PORT (e.g. tcp://127.0.0.1:8786) "
        f"or local:N with N from 1 to {MAX_LOCAL_WORKERS} worker processes, got {scheduler!r}"
    )


def cluster_info() -> ClusterInfo | None:
    """The current session's cluster, tasks and retries; None when not on a Dask cluster."""
    executor = current_executor()
    return executor.info() if isinstance(executor, DaskGroups) else None


class DaskGroups(Executor):
    """A Dask client's executor that names its tasks and counts their attempts (a scheduler
    plugin: the scheduler's own log keeps only the last 1000 transitions)."""

    def __init__(self, client: Any, scheduler: str, retries: int = RETRIES) -> None:
        self.client, self.scheduler = client, scheduler
        self.inner = client.get_executor(retries=retries, pure=False)
        self.prefix = f"deepsets-group-{uuid.uuid4().hex[:12]}-"  # this session's tasks
        self.keys: list[str] = []
        self.seconds: list[float] = []
        self.workers = len(client.scheduler_info()["workers"])
        client.register_plugin(attempt_counter(self.prefix), name=self.prefix)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        key = f"{self.prefix}{len(self.keys)}"
        self.keys.append(key)
        future: Future[T] = self.inner.submit(fn, *args, key=key, **kwargs)
        future.add_done_callback(self._timed)
        return future

    def _timed(self, future: Future[Any]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.seconds.append(float(getattr(future.result(), "seconds", 0.0)))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait and not cancel_futures)
        with contextlib.suppress(Exception):  # the scheduler may be gone already
            self.client.unregister_scheduler_plugin(self.prefix)

    def info(self) -> ClusterInfo:
        """The tasks so far and their extra attempts, as the scheduler plugin counted them."""
        name = self.prefix
        retried: dict[str, int] = self.client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.plugins[name].retried()
        )  # key -> attempts, for the tasks sent more than once
        return ClusterInfo(
            self.scheduler,
            self.workers,
            len(self.keys),
            sum(n - 1 for n in retried.values()),
            len(retried),
            sum(self.seconds),
        )


def attempt_counter(prefix: str) -> Any:
    """A scheduler plugin counting the times each task whose key starts with `prefix` was sent
    to a worker; defined in a function so that it travels by value (no deepsets there)."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Attempts(SchedulerPlugin):
        def __init__(self) -> None:
            self.counts: dict[str, int] = {}

        def transition(self, key: Any, start: str, finish: str, *args: Any, **kw: Any) -> None:
            if finish == "processing" and str(key).startswith(prefix):
                self.counts[str(key)] = self.counts.get(str(key), 0) + 1

        def retried(self) -> dict[str, int]:
            return {k: n for k, n in self.counts.items() if n > 1}

    return Attempts()


@contextlib.contextmanager
def quiet() -> Iterator[Callable[[], None]]:
    """In the block, Dask's loggers (and their children) log warnings only (it logs every
    worker's start and stop) and CALLBACK_LOGGERS nothing; the function yielded silences Dask
    too, for a close with tasks in flight. The levels are restored on the way out."""
    import distributed  # noqa: F401  (sets its loggers' levels on import: set ours after)

    before: dict[str, int] = {}

    def at_least(level: int, names: tuple[str, ...]) -> None:
        children = [n for n in logging.root.manager.loggerDict if n.startswith(names)]
        for n in [*names, *children]:  # a child's own level would let its records through
            before.setdefault(n, logging.getLogger(n).level)
            logging.getLogger(n).setLevel(max(level, logging.getLogger(n).level))

    at_least(logging.WARNING, ("distributed",))
    at_least(logging.CRITICAL, CALLBACK_LOGGERS)
    try:
        yield lambda: at_least(logging.CRITICAL, ("distributed",))
    finally:
        for n, level in before.items():
            logging.getLogger(n).setLevel(level)


def dask_setup(worker: Any) -> None:
    """(On a worker of `local:N`, as Dask's preload) ignore SIGINT, which the run's own process
    answers by stopping the workers, and log nothing: a task's error reaches the run as an
    exception, and a heartbeat to a closed scheduler is no news."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def worker_versions() -> dict[str, str]:
    """(On a worker) the versions that decide its numbers."""
    import torch

    import deepsets

    return {"deepsets": deepsets.__version__, "torch": torch.__version__}


@contextlib.contextmanager
def session(scheduler: str | None, name: str = "scheduler") -> Iterator[DaskGroups | None]:
    """Train the block's models on the Dask cluster `scheduler` (None: in this process); a
    ValueError naming `name` (the CLI's `--scheduler`) before any training for a scheduler that
    does not answer as one within CONNECT_SECONDS or has no workers within WORKERS_SECONDS.
    `local:N`'s workers end however the block does."""
    if check_scheduler(scheduler, name) is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        hush = stack.enter_context(quiet())  # levels restored last
        client = stack.enter_context(connect(str(scheduler), name))
        groups = DaskGroups(client, str(scheduler))
        stack.callback(groups.shutdown, wait=False)  # cancels what is left
        stack.enter_context(using(groups))
        try:
            yield groups
        except BaseException:
            hush()  # closing with tasks in flight: their cancelled gathers are no news
            raise


@contextlib.contextmanager
def connect(scheduler: str, name: str = "scheduler") -> Iterator[Any]:
    """A `distributed.Client` of `scheduler` (and for local:N its LocalCluster), checked:
    a Dask scheduler (`handshake`), with workers, whose deepsets and torch are this process's."""
    import dask.config
    from distributed import Client, LocalCluster
    from distributed.gc import disable_gc_diagnosis

    with contextlib.ExitStack() as stack:
        address = scheduler
        if scheduler.startswith("local:"):
            # the workers' scratch space, removed with them (Dask's default outlives the run)
            scratch = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="deepsets-dask-", ignore_cleanup_errors=True)
            )
            stack.enter_context(dask.config.set({"temporary-directory": scratch}))  # scheduler's
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=int(scheduler.split(":")[1]),
                threads_per_worker=1,  # one task per worker process, on TORCH_THREADS
                processes=True,
                host="127.0.0.1",  # loopback only
                dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
                local_directory=scratch,
                preload=[__name__],  # dask_setup below: the workers leave Ctrl-C to this process
            )
            stack.callback(cluster.close, timeout=WORKERS_SECONDS)
            address = cluster.scheduler_address
            # the scheduler's GC callback would swallow a Ctrl-C or SIGTERM landing in it
            disable_gc_diagnosis(force=True)  # type: ignore[no-untyped-call]
        else:
            handshake(scheduler, name)
        try:
            client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)  # type: ignore[no-untyped-call]
        except OSError as e:
            raise ValueError(
                f"{name} {scheduler}: no Dask scheduler answered within {CONNECT_SECONDS:g} s "
                f"({e}); start one with `dask scheduler`, or use {name} local:N"
            ) from e
        stack.callback(client.close, timeout=WORKERS_SECONDS)
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError as e:
            raise ValueError(
                f"{name} {scheduler} has no workers after {WORKERS_SECONDS:g} s; start some "
                f"with `dask worker {address}`"
            ) from e
        check_workers(client, f"{name} {scheduler}")
        yield client


def handshake(scheduler: str, name: str = "scheduler") -> None:
    """A ValueError naming `name` unless `scheduler` (tcp:// or tls://) answers Dask's handshake
    within CONNECT_SECONDS. Dask's Client would wait for ever on a port that accepts and never
    answers, and read another protocol's answer (HTTP) as the length of a message."""
    import asyncio

    from distributed.comm.core import connect as dask_connect
    from distributed.security import Security

    limit = CONNECT_SECONDS + 1  # Dask's connect tries for CONNECT_SECONDS, then says why

    async def shake() -> None:
        # Dask's TLS settings (from its configuration), if any
        tls = Security().get_connection_args("client")  # type: ignore[no-untyped-call]
        comm = await asyncio.wait_for(
            dask_connect(scheduler, timeout=CONNECT_SECONDS, **tls),  # type: ignore[no-untyped-call]
            limit,
        )
        await comm.close()

    try:
        with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever the caller runs
            thread.submit(asyncio.run, shake()).result()
        return
    except TimeoutError:  # an OSError: first
        why = f"something accepted but did not answer as a Dask scheduler within {limit:g} s"
    except OSError as e:
        why = f"no Dask scheduler answered within {CONNECT_SECONDS:g} s ({e})"
    except Exception as e:  # noqa: BLE001  # whatever answered, it is not a usable scheduler
        why = f"it did not answer as a Dask scheduler ({type(e).__name__}: {str(e)[:200]})"
    raise ValueError(
        f"{name} {scheduler}: {why}; start one with `dask scheduler`, or use {name} local:N"
    )


def check_workers(client: Any, scheduler: str) -> None:
    """A ValueError unless every worker runs this process's deepsets and torch."""
    here = worker_versions()
    try:
        found = client.run(worker_versions)
    except Exception as e:  # e.g. deepsets not installed on a worker
        raise ValueError(f"the workers of {scheduler} cannot run deepsets: {e!r}") from e
    other = {w: v for w, v in found.items() if v != here}
    if other:
        raise ValueError(
            f"the workers of {scheduler} must run deepsets and torch as here ({here}), so that "
            f"the numbers are the same; these differ: {other}"
        )


def describe(info: ClusterInfo) -> str:
    """The report's sentence on the cluster: whether any task was retried (retries > 0)."""
    where = (
        f"Trained on the Dask cluster {info.scheduler} ({info.workers} workers at the start) "
        f"as {info.groups} tasks, one stack of models each"
    )
    if info.retries == 0:
        return f"{where}; no task was retried."
    return (
        f"{where}; {info.retried_groups} task(s) went to a worker again ({info.retries} extra "
        "attempt(s) in all) after a worker was lost or a task failed, each training again from "
        "its initial weights and seeds."
    )
