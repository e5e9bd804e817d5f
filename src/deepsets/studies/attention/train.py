"""Training every model of both tasks over runs: data, two phases, timing.

The runs share one training set per task (generator seed + TRAIN_OFFSET) and differ in their
initial weights (seed + s) and the order of their batches. All models of a task train in
one engine call per phase: `steps - fine_steps` Adam steps at lr, then `fine_steps` at lr / 10 (a
fresh Adam; the engine keeps the learning rate fixed within a call, and the paper lowers it for
the last 30% of the clustering's steps).

Shape letters: S runs (seeds), T training steps, B sets, N objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.lab.run import cpu_seconds
from deepsets.studies.attention.models import cluster_model, max_model
from deepsets.studies.attention.settings import AttentionSettings
from deepsets.studies.attention.tasks import (
    MixtureSets,
    max_regression,
    mixture_sets,
)

TRAIN_OFFSET = 500_000  # the training sets: generator seed + TRAIN_OFFSET (+ 1 for clustering)
FINE_OFFSET = 700_000  # the second phase's batches: generator seed + s + FINE_OFFSET
TEST_OFFSET = 900_000  # the test sets: generator seed + TEST_OFFSET (+ 1 for clustering)


@dataclass(frozen=True)
class Trained:
    """The trained models of one task: by model name, one per run (in seed order)."""

    task: str
    models: dict[str, list[nn.Module]]
    losses: dict[str, np.ndarray]
    """Training loss of every step, (S, T): MAE, or the mixture's NLL per point."""
    seconds: float
    """Wall seconds of the task's training."""
    cpu_seconds: float
    """CPU seconds of the task's training: this process and its engine workers."""


def max_sets(s: AttentionSettings, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X (B, N, 1), mask (B, N), y (B, 1) of the max regression's `split` ("train" or "test")."""
    if split == "train":
        return max_regression(s.max_train_sets, s.max_sizes, generator=s.seed + TRAIN_OFFSET)
    return max_regression(s.max_test_sets, s.max_sizes, generator=s.seed + TEST_OFFSET)


def cluster_sets(s: AttentionSettings, split: str) -> MixtureSets:
    """The clustering's `split` datasets ("train": cl_train_sizes, "test": cl_sizes)."""
    if split == "train":
        n, sizes, seed = s.cl_train_sets, s.cl_train_sizes, s.seed + TRAIN_OFFSET + 1
    else:
        n, sizes, seed = s.cl_test_sets, s.cl_sizes, s.seed + TEST_OFFSET + 1
    return mixture_sets(n, sizes, components=s.components, generator=seed)


def two_phases(
    models: list[nn.Module], data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    steps: int, fine_steps: int, lr: float, seeds: list[int], progress: bool, **engine: object,
) -> np.ndarray:  # fmt: skip
    """Train `models` (one per seed) on data = (X, y, mask): the losses (S, steps)."""
    X, y, mask = data
    phases = [(steps - fine_steps, lr, seeds)]
    if fine_steps:
        phases.append((fine_steps, lr / 10, [k + FINE_OFFSET for k in seeds]))
    losses = []
    for n, rate, draws in phases:
        _, L = train_on(
            models, (X, y, mask), n, lr=rate, seeds=draws,
            loss=engine["loss"], batch_size=engine["batch_size"],  # type: ignore[arg-type]
            engine=Engine(progress=progress, threads=engine["threads"]),  # type: ignore[arg-type]
        )  # fmt: skip
        losses.append(L)  # (S, n)
    return np.concatenate(losses, axis=1)


def train_task(
    task: str, s: AttentionSettings, names: tuple[str, ...], seeds: list[int],
    device: torch.device, progress: bool,
) -> Trained:  # fmt: skip
    """Train every model of `names` on `task` ("max_regression" or "clustering"), a run per
    seed, all in one engine call per phase (its workers share out the models' work)."""
    build: Callable[[str, AttentionSettings, int], nn.Module]
    if task == "max_regression":
        X, mask, y = max_sets(s, "train")
        build, steps, fine = max_model, s.max_steps, s.max_fine_steps
        engine: dict[str, object] = {"loss": "mae", "batch_size": s.max_batch, "threads": s.threads}
    else:
        train = cluster_sets(s, "train")
        X, mask, y = train.points, train.mask, train.targets
        build, steps, fine = cluster_model, s.cl_steps, s.cl_fine_steps
        engine = {"loss": "mixture_nll", "batch_size": s.cl_batch, "threads": s.threads}
    data = (X.to(device), y.to(device), mask.to(device))
    models: list[nn.Module] = [build(name, s, seed).to(device) for name in names for seed in seeds]
    draws = [seed for _ in names for seed in seeds]  # run s: one batch order for its models
    t, cpu = time.perf_counter(), cpu_seconds()
    L = two_phases(models, data, steps, fine, s.lr, draws, progress, **engine)  # (K, T)
    S = len(seeds)
    return Trained(
        task,
        {name: models[i * S : (i + 1) * S] for i, name in enumerate(names)},
        {name: L[i * S : (i + 1) * S] for i, name in enumerate(names)},
        time.perf_counter() - t,
        cpu_seconds() - cpu,
    )
