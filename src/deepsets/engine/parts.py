"""Share the stacks out over worker threads, one CPU core each, of about equal work.

A worker runs its own copy of the training loop on its share of the stacks; torch releases
the GIL inside every op, so two workers keep two cores busy. Each member's arithmetic is that
of its stack alone, so the split changes no result as long as the stacks stay the same; a
stack is split in two only when there are fewer stacks than workers, and the split depends
only on the models (never on the machine), so the same models give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from torch import nn

from deepsets.engine.stacks import Stack, stack_models

WORKERS = 2  # threads; measured gain in benchmarks/README.md ("Worker threads")
# A stack's cost per step in seconds: a fixed part (about 25 ops, forward and backward) and
# its multiply-adds. Measured on the study's stacks, one thread: 0.35 ms for an MLP stack of
# five 4-unit MLPs, 1.8 ms for five 128x128 ones (about 6e9 multiply-adds/s, x3 for backward).
STACK_SECONDS, MAC_SECONDS = 0.35e-3, 3 / 6e9

Part = list[tuple[Stack, list[int]]]  # a worker's stacks, each with its members' indices


def cost(models: Sequence[nn.Module], rows: int) -> float:
    """Estimated seconds per step of one stack of `models`, each seeing `rows` sets a step
    (a DeepSet's phi sees N times more rows, but its few weights make that small)."""
    macs = sum(p.numel() for m in models for p in m.parameters() if p.dim() == 2)
    return STACK_SECONDS + MAC_SECONDS * macs * rows


def partition(models: Sequence[nn.Module], rows: int, workers: int) -> list[Part]:
    """The stacks of `models`, shared out into at most `workers` parts of about equal cost."""
    groups = [index for _, index in stack_models(models)]
    while len(groups) < workers and max(map(len, groups)) > 1:  # too few stacks: halve one
        big = max(groups, key=len)
        groups.remove(big)
        groups += [big[: len(big) // 2], big[len(big) // 2 :]]
    parts: list[list[list[int]]] = [[] for _ in range(min(workers, len(groups)))]
    load = [0.0] * len(parts)
    for index in sorted(groups, key=lambda g: -cost([models[i] for i in g], rows)):
        j = load.index(min(load))
        parts[j].append(index)
        load[j] += cost([models[i] for i in index], rows)
    return [restack(models, part) for part in parts]


def restack(models: Sequence[nn.Module], part: list[list[int]]) -> Part:
    """The stacks of a part: each group of model indices as one stack (they share a key)."""
    out = []
    for index in part:
        ((stack, _),) = stack_models([models[i] for i in index])
        out.append((stack, index))
    return out


def run_parts(
    parts: list[Part],
    train: Callable[[Part, list[int], bool], np.ndarray],
    K: int,
    steps: int,
) -> np.ndarray:
    """Train each part with `train(stacks, members, progress)` in its own thread; (K, steps).

    `train` gets the part's stacks with member indices local to the part (0..k-1), the
    part's global model indices, and whether to show progress (part 0 only).
    """

    def one(j: int) -> tuple[list[int], np.ndarray]:
        members = [i for _, index in parts[j] for i in index]
        local = {g: n for n, g in enumerate(members)}
        stacks = [(s, [local[i] for i in index]) for s, index in parts[j]]
        return members, train(stacks, members, j == 0)

    losses = np.empty((K, steps))
    if len(parts) == 1:
        results = [one(0)]
    else:
        with ThreadPoolExecutor(len(parts)) as pool:
            results = list(pool.map(one, range(len(parts))))
    for members, part_losses in results:
        losses[members] = part_losses
    return losses
