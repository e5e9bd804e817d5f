"""The engine's workers as forked processes: one CPU core each, without sharing a GIL.

A step of tiny stacks is hundreds of small ops, each a few microseconds of Python around its
kernel. Two threads in one process take turns at the GIL for that Python, so the second core
idles: the study's step ran at 8.9 ms on one worker thread and 7.4 ms on two (hand-written
steps; 10.7 and 7.1 ms through autograd, whose backward runs without the GIL). Two processes
run at the speed of one each (benchmarks/README.md, "Levers").

Each part beyond the first trains in a child forked from this process: the child has the
models, the data source and the training function as they are here (nothing is pickled on the
way in) and sends back only its members' trained weights, losses and snapshot weights. The
first part trains here, with the progress bar. A child that dies or fails is an error here,
and no weights of its part are written; on any error or interruption the children are ended.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepsets.validate import is_int

# Fork the workers when it is safe (see `forkable`); else threads. Measured gain in
# benchmarks/README.md, "Levers".
FORK = True

Copies = dict[int, dict[int, nn.Module]]  # step -> model index -> a copy of the model then
Train = Callable[[int], tuple[list[int], np.ndarray, Copies]]  # part -> members, losses, copies


def forkable(device: torch.device, seeds: Sequence[object], parts: int) -> bool:
    """Whether `parts` parts may train in forked children: on a CPU, where fork exists, outside
    a daemon process (which may not have children), and when every data stream comes from an
    integer seed (a child's copy of a caller's generator would not advance the caller's)."""
    return (
        FORK
        and parts > 1
        and device.type == "cpu"
        and "fork" in mp.get_all_start_methods()
        and not mp.current_process().daemon
        and all(is_int(s) for s in seeds)
    )


def run_forked(
    n_parts: int, train: Train, models: Sequence[nn.Module]
) -> list[tuple[list[int], np.ndarray, Copies]]:
    """`train(j)` for every part j: part 0 here, the others each in a forked child; the
    children's trained weights are written into `models`. Results in part order."""
    ctx = mp.get_context("fork")
    children = []
    try:
        for j in range(1, n_parts):
            recv, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=serve, args=(send, j, train, models), daemon=True)
            child.start()
            send.close()
            children.append((child, recv))
        results = [train(0)]
        for j, (child, recv) in enumerate(children, start=1):
            results.append(receive(j, child, recv, models))
    finally:
        for child, recv in children:
            if child.is_alive():
                child.terminate()
            child.join()
            recv.close()
    return results


def serve(send: Any, j: int, train: Train, models: Sequence[nn.Module]) -> None:
    """In the child: train part j and send back its members' weights, losses and snapshot
    weights (or the error), then leave without running the parent's exit handlers."""
    try:
        members, losses, copies = train(j)
        weights = [models[i].state_dict() for i in members]
        kept = {s: {i: m.state_dict() for i, m in c.items()} for s, c in copies.items()}
        send.send_bytes(pickle.dumps(("done", members, losses, weights, kept)))
    except BaseException as e:  # any failure goes back to the parent
        try:
            send.send_bytes(pickle.dumps(("error", e)))
        except Exception:  # an exception that does not pickle
            send.send_bytes(pickle.dumps(("error", RuntimeError(f"{type(e).__name__}: {e}"))))
    finally:
        send.close()
        os._exit(0)


def receive(
    j: int, child: Any, recv: Any, models: Sequence[nn.Module]
) -> tuple[list[int], np.ndarray, Copies]:
    """Part j's results from its child; its weights written into `models`."""
    try:
        message = pickle.loads(recv.recv_bytes())
    except EOFError:
        child.join()
        raise RuntimeError(
            f"the worker process training part {j} of the models died (exit code "
            f"{child.exitcode}); none of that part's weights were written"
        ) from None
    if message[0] == "error":
        raise message[1]
    _, members, losses, weights, kept = message
    with torch.no_grad():
        for i, w in zip(members, weights, strict=True):
            models[i].load_state_dict(w)
    copies = {s: {i: snapshot(models[i], w) for i, w in c.items()} for s, c in kept.items()}
    return members, losses, copies


def snapshot(model: nn.Module, weights: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of `model` with `weights`, in eval mode, as the engine's snapshots are."""
    out = copy.deepcopy(model)
    out.load_state_dict(weights)
    return out.eval()
