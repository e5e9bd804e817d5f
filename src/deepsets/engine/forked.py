"""The engine's workers as forked processes: one CPU core each, without sharing a GIL (two
threads take turns at it for the Python around every small op: benchmarks/README.md, "Levers").

Each part trains in a child forked from this process, which has everything as it is here
(nothing is pickled on the way in) and sends back only its members' trained weights, losses and
snapshot weights; the first part shows the progress bar. This process waits for all of them, so
a child that fails or dies (killed, out of memory) is an error here at once, naming it and how
it ended (`WorkerDied`), and nothing of the run is written; on any error or interruption the
children are ended.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import multiprocessing as mp
import multiprocessing.connection
import os
import pickle
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from deepsets.checks import is_int

FORK = True  # fork the workers when it is safe (`forkable`), else threads

T = TypeVar("T")
R = TypeVar("R")
Weights = dict[str, torch.Tensor]  # a state_dict
# a state_dict's entries (name, dtype, shape) and their bytes, or the state_dict (`pack`)
Packed = tuple[list[tuple[str, torch.dtype, tuple[int, ...]]], np.ndarray] | Weights
SIGNALS = {signal.SIGINT, signal.SIGTERM}
Copies = dict[int, dict[int, nn.Module]]  # step -> model index -> a copy of the model then
Train = Callable[[int], tuple[list[int], np.ndarray, Copies]]  # part -> members, losses, copies


def can_fork() -> bool:
    """Whether this process may fork workers: FORK, on Linux (macOS's libraries are not safe to
    fork, Windows has none), outside a daemon process (which may not have children)."""
    return FORK and sys.platform == "linux" and not mp.current_process().daemon


def forkable(device: torch.device, seeds: Sequence[object], threads: int = 1) -> bool:
    """Whether training workers may be forked: `can_fork`, on a CPU, every data stream from an
    integer seed (a child's copy of a generator would not advance the caller's), on one torch
    thread (a child would wait on the OpenMP pool it copied, whose threads are not there)."""
    return can_fork() and device.type == "cpu" and all(is_int(s) for s in seeds) and threads == 1


class WorkerDied(RuntimeError):
    """A forked worker ended (killed by a signal, or exited) before sending its results."""


def fork_all(jobs: Sequence[Callable[[], R]], here: bool = False) -> list[R]:
    """Every job's result, in order: each job runs in a forked child, all at the same time,
    while this process waits for the first to send or end. A child's error, or its death, is
    raised here at once; on any error the children are ended. With `here`, jobs[0] runs in this
    process instead (a fork less, for short jobs): a child's end is then seen once it is done."""
    ctx = mp.get_context("fork")
    children = []
    first = 1 if here else 0
    try:
        for job in jobs[first:]:
            recv, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=serve, args=(send, job), daemon=True)
            held = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # until serve's own
            try:
                child.start()
                children.append((child, recv))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            send.close()
        results: dict[int, R] = {0: jobs[0]()} if here else {}
        waiting: dict[Any, int] = {recv: j for j, (_, recv) in enumerate(children, first)}
        while waiting:
            for ready in mp.connection.wait(list(waiting)):  # a result, an error or an end
                j = waiting.pop(ready)
                results[j] = receive(j, *children[j - first])
    finally:
        for child, recv in children:
            if child.is_alive():
                child.terminate()
            child.join()
            recv.close()
    return [results[j] for j in range(len(jobs))]


def fork_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """[fn(x) for x in items], shared out over `workers` processes (this one and forked
    children), each taking the next item from a shared counter; a plain loop where forking is
    not possible or on more than one torch thread (`forkable`). Only the results are pickled."""
    n = min(workers, len(items))
    if n < 2 or not can_fork() or torch.get_num_threads() > 1:
        return [fn(x) for x in items]
    taken = mp.get_context("fork").Value("q", 0)  # the next item's index, shared
    shares = fork_all([functools.partial(_take, fn, items, taken) for _ in range(n)], here=True)
    out: dict[int, R] = {}
    for share in shares:
        out.update(share)
    return [out[i] for i in range(len(items))]


def _take(fn: Callable[[T], R], items: Sequence[T], taken: Any) -> dict[int, R]:
    """fn of every item this process takes from the shared counter `taken`, by index."""
    done: dict[int, R] = {}
    while True:
        with taken.get_lock():
            i = taken.value
            taken.value = i + 1
        if i >= len(items):
            return done
        done[i] = fn(items[i])


def serve(send: Any, job: Callable[[], object]) -> None:
    """In the child: run the job, send back its result (or its error), leave without running
    the parent's exit handlers. It ignores Ctrl-C (the parent ends its children) and dies at
    once of SIGTERM, the parent's way of ending it (both blocked from before the fork)."""
    with contextlib.suppress(ValueError):  # not this process's main thread: nothing to set
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    try:
        send.send_bytes(pickle.dumps(("done", job())))
    except BaseException as e:  # any failure goes back to the parent
        try:
            send.send_bytes(pickle.dumps(("error", e)))
        except Exception:  # an exception that does not pickle
            send.send_bytes(pickle.dumps(("error", RuntimeError(f"{type(e).__name__}: {e}"))))
    finally:
        send.close()
        os._exit(0)


def receive(j: int, child: Any, recv: Any) -> Any:
    """Job j's result from its child; its error raised here, or its end as a `WorkerDied`."""
    try:
        status, result = pickle.loads(recv.recv_bytes())
    except EOFError:
        child.join()
        code = child.exitcode
        how = f"exited with status {code}"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
            how = f"was killed by {name}"
            how += " (as the kernel does when memory runs out)" if name == "SIGKILL" else ""
        raise WorkerDied(
            f"worker {j} (pid {child.pid}) {how} before sending its results; the other "
            "workers were ended and nothing of the run was kept"
        ) from None
    if status == "error":
        raise result
    return result


def run_forked(
    n_parts: int, train: Train, models: Sequence[nn.Module], here: bool = False
) -> list[tuple[list[int], np.ndarray, Copies]]:
    """`train(j)` for every part j, each in a forked child (part 0 here, if `here`: see
    `fork_all`), whose trained weights are written into `models` once every part has sent
    them; results in part order."""

    def packed(
        j: int,
    ) -> tuple[list[int], np.ndarray, list[Packed], dict[int, dict[int, Packed]]]:
        members, losses, copies = train(j)
        kept = {s: {i: pack(m.state_dict()) for i, m in c.items()} for s, c in copies.items()}
        return members, losses, [pack(models[i].state_dict()) for i in members], kept

    jobs: list[Callable[[], Any]] = [functools.partial(packed, j) for j in range(n_parts)]
    if here:
        jobs[0] = functools.partial(train, 0)  # trains `models` in place: nothing to unpack
    done = fork_all(jobs, here)
    results: list[tuple[list[int], np.ndarray, Copies]] = done[:1] if here else []
    for members, losses, weights, kept in done[1:] if here else done:
        with torch.no_grad():
            for i, w in zip(members, weights, strict=True):
                models[i].load_state_dict(unpack(w))
        copies = {
            s: {i: snapshot(models[i], unpack(w)) for i, w in c.items()} for s, c in kept.items()
        }
        results.append((members, losses, copies))
    return results


def pack(weights: Weights) -> Packed:
    """A state_dict as its entries (name, dtype, shape) and one byte array of their values,
    which pickles in microseconds (torch pickles each tensor through torch.save); one with a
    tensor that is not strided (sparse, say) stays as it is."""
    if any(t.layout != torch.strided for t in weights.values()):
        return weights
    entries = [(k, t.dtype, tuple(t.shape)) for k, t in weights.items()]
    raw = [t.detach().reshape(-1).view(torch.uint8) for t in weights.values()]  # (bytes,) each
    return entries, torch.cat(raw).numpy() if raw else np.empty(0, np.uint8)


def unpack(packed: Packed) -> Weights:
    """The state_dict `pack` made: each entry a copy of its bytes, as its dtype and shape."""
    if isinstance(packed, dict):
        return packed
    entries, data = packed
    raw, out, at = torch.from_numpy(data), {}, 0
    for name, dtype, shape in entries:
        n = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        out[name] = raw[at : at + n].clone().view(dtype).reshape(shape)  # clone: aligned
        at += n
    return out


def snapshot(model: nn.Module, weights: Weights) -> nn.Module:
    """A copy of `model` with `weights`, in eval mode, as the engine's snapshots are."""
    out = copy.deepcopy(model)
    out.load_state_dict(weights)
    return out.eval()
