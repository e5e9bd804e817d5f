"""Form the stacks by a fixed rule, then share them out over workers, one CPU core each.

`stacks` (which models share one, when a large one is split and a lone one halved) is a rule
of the models, the batch shape and the fixed constants below, never of the workers or the
machine, so the same models give the same numbers on any number of workers. `share_out` gives
the stacks, largest first by the cost model, each to the worker with the least work so far; a
worker (a forked process, or a thread: engine/forked.py) trains its share in one loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from torch import nn

from deepsets.engine.families import Stack, grouped
from deepsets.engine.families import cost as family_cost
from deepsets.engine.forked import Copies, run_forked

# The rule's constants are fixed numbers, never measured per machine: they decide which models
# share a stack, and a member's rounding may depend on its stack's size. Their measurements are
# in benchmarks/README.md, "Levers".
LONE_SPLIT = 2  # large stacks split into a multiple of this; fewer stacks are halved
# A stack's seconds per step: a fixed part, a part per activation value and one per flop of its
# Linear layers (fitted to the default study's stacks, one core).
STACK_SECONDS, VALUE_SECONDS, FLOP_SECONDS = 0.08e-3, 2.6e-9, 2.4e-11
HALVE_WORK = STACK_SECONDS  # a lone stack is halved when its work is more than this
STACK_VALUES = 400_000  # larger stacks are split: a core's L2 holds ~32 DeepSets' activations
FORK_SECONDS = 0.02  # forking costs about this per call: below it in work, threads
# A call whose first part has more work than this trains every part in a child, so that a
# child's death is seen at once; a shorter one trains its first part here, a fork less.
WATCH_SECONDS = 2.0

Part = list[tuple[Stack, list[int]]]  # a worker's stacks, each with its members' indices
Family = Callable[..., Stack]  # builds one stack of its members


def cost(models: Sequence[nn.Module], B: int, N: int) -> float:
    """Estimated seconds per step of one stack of `models` on batches of B sets of N objects."""
    work = 0.0
    for m in models:
        n_values, n_flops = family_cost(m, B, N)
        work += VALUE_SECONDS * n_values + FLOP_SECONDS * n_flops
    return STACK_SECONDS + work


def values(model: nn.Module, B: int, N: int) -> int:
    """Activation values `model` computes a step (its family's estimate)."""
    return family_cost(model, B, N)[0]


def seconds(
    parts: Sequence[Part], models: Sequence[nn.Module], B: int, N: Mapping[int, int], steps: int
) -> list[float]:
    """Each part's estimated seconds of work in `steps` steps (N: objects per set, by model)."""
    return [steps * sum(cost([models[i] for i in ix], B, N[ix[0]]) for _, ix in p) for p in parts]


def worth_forking(work: Sequence[float]) -> bool:
    """Whether every part's work (`seconds`) outweighs what forking costs."""
    return len(work) > 1 and min(work) > FORK_SECONDS


def stacks(models: Sequence[nn.Module], B: int, N: int) -> list[tuple[Family, list[int]]]:
    """The stacks of `models` (their family, their indices): one per architecture, large ones
    split to STACK_VALUES, halved while there are fewer than LONE_SPLIT and it is worth it."""
    groups = [
        (family, piece)
        for family, index in grouped(models)
        for piece in split(index, models, B, N)
    ]  # each model's stack key is found once

    def full(g: list[int]) -> float:
        return cost([models[i] for i in g], B, N)

    while len(groups) < LONE_SPLIT:  # too few stacks: halve the largest, if it is worth it
        family, big = max(groups, key=lambda fg: full(fg[1]))
        if len(big) < 2 or full(big) - STACK_SECONDS < HALVE_WORK:  # the work halving shares
            break
        groups.remove((family, big))
        groups += [(family, big[: len(big) // 2]), (family, big[len(big) // 2 :])]
    return groups


def partition(models: Sequence[nn.Module], B: int, N: int, workers: int) -> list[Part]:
    """The `stacks` of `models`, shared out into at most `workers` parts of about equal cost:
    largest first, each to the part with the least work so far."""
    return share_out(models, B, [(list(range(len(models))), N)], workers)


def share_out(
    models: Sequence[nn.Module], B: int, groups: Sequence[tuple[list[int], int]], workers: int
) -> list[Part]:
    """`partition` of several groups (indices, N) of models: each forms its `stacks` apart, as
    if trained alone, then all are shared out together, largest first, to the least loaded."""
    pieces = []  # (cost per step, family, members' indices in `models`)
    for index, N in groups:
        for family, local in stacks([models[i] for i in index], B, N):
            members = [index[k] for k in local]
            pieces.append((cost([models[i] for i in members], B, N), family, members))
    parts: list[Part] = [[] for _ in range(min(workers, len(pieces)))]
    load = [0.0] * len(parts)
    for work, family, members in sorted(pieces, key=lambda p: -p[0]):  # stable: ties in order
        j = load.index(min(load))
        parts[j].append((family([models[i] for i in members]), members))  # each stack built once
        load[j] += work
    return parts


def split(index: list[int], models: Sequence[nn.Module], B: int, N: int) -> list[list[int]]:
    """A stack's members in pieces of at most STACK_VALUES values each, as equal as can be,
    their number a multiple of LONE_SPLIT."""
    total = sum(values(models[i], B, N) for i in index)
    if total <= STACK_VALUES:
        return [index]
    pieces = -(-total // STACK_VALUES)  # at least this many
    n = min(len(index), -(-pieces // LONE_SPLIT) * LONE_SPLIT)  # a multiple of LONE_SPLIT
    return [[int(i) for i in a] for a in np.array_split(index, n)]


def run_parts(
    parts: list[Part],
    train: Callable[[Part, bool], tuple[list[int], np.ndarray, Copies]],
    models: Sequence[nn.Module],
    steps: int,
    work: Sequence[float] | None,
) -> tuple[np.ndarray, Copies]:
    """Train each part with `train(part, progress)` (part 0 shows progress; it returns the
    part's model indices, their losses and copies) in its own worker: forked if its estimated
    `work` (seconds by part) is given, else a thread; returns the losses (K, steps) and the
    snapshot copies (step -> model index -> copy)."""

    def one(j: int) -> tuple[list[int], np.ndarray, Copies]:
        return train(parts[j], j == 0)

    if work is not None:
        results = run_forked(len(parts), one, models, here=work[0] < WATCH_SECONDS)
    elif len(parts) == 1:
        results = [one(0)]
    else:
        with ThreadPoolExecutor(len(parts)) as pool:
            results = list(pool.map(one, range(len(parts))))
    losses = np.empty((len(models), steps))
    copies: Copies = {}
    for members, part_losses, part_copies in results:
        losses[members] = part_losses
        for s, c in part_copies.items():
            copies.setdefault(s, {}).update(c)
    return losses, copies
