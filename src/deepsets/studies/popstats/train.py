"""Training both methods at one N: the DeepSets of every task of one sample dimension in one
engine call per phase (`train_on`), the kernel method's fits shared out over forked workers.

Run k of task t at N trains on its own sets, drawn from `data_seed(t, N, k)`; the DeepSet and
SDM of that run see the same sets (and the same whitening, from their samples). The DeepSet
trains on MSE for `steps` Adam steps, then on L1 for `l1_fraction` as many at `l1_lr`: the
paper's code trains on MSE, then on L1, with a plateau schedule the engine does not have (it
keeps lr fixed within a call), so the second phase's lower lr stands in for the schedule.

Shape letters: K runs in one engine call, N training sets, M samples per set, D sample
dimension, T test sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from deepsets.engine.forked import fork_map
from deepsets.engine.settings import Engine, resolve_workers
from deepsets.engine.train import train_on
from deepsets.studies.popstats.models import PopStatsDeepSet, build_deepset, fit_sdm
from deepsets.studies.popstats.settings import PopstatsSettings
from deepsets.studies.popstats.tasks import TASKS, PopulationSets, population_sets
from deepsets.training import predict

TASK_OFFSET = 1_000_003  # training sets of task t: seed + TASK_OFFSET (t + 1) + SIZE_OFFSET N
SIZE_OFFSET = 1009
MSE_DRAWS, L1_DRAWS, INIT = 1, 2, 3  # batch orders and initial weights: data seed + these
TEST_OFFSET = 10**9  # the test sets of task t: seed + TEST_OFFSET + t


@dataclass(frozen=True)
class Run:
    """One run (task, seed) at one N: its training sets."""

    task: str
    seed: int
    train: PopulationSets


def data_seed(task: str, N: int, seed: int) -> int:
    """The generator seed of the training sets of run `seed` of `task` at N."""
    return seed + TASK_OFFSET * (TASKS.index(task) + 1) + SIZE_OFFSET * N


def test_sets(task: str, s: PopstatsSettings) -> PopulationSets:
    """The task's test sets: the same for every N, method and run."""
    return population_sets(
        task, s.test_sets, s.samples, generator=s.seed + TEST_OFFSET + TASKS.index(task)
    )


def draw_runs(tasks: list[str], N: int, seeds: tuple[int, ...], s: PopstatsSettings) -> list[Run]:
    """Every run's training sets at N, tasks outer, seeds inner."""
    return [
        Run(t, k, population_sets(t, N, s.samples, generator=data_seed(t, N, k)))
        for t in tasks
        for k in seeds
    ]


def train_deepsets(
    runs: list[Run], N: int, steps: int, s: PopstatsSettings, device: torch.device
) -> list[PopStatsDeepSet]:
    """One trained DeepSet per run (all runs' sets of one shape (N, M, D)), MSE then L1."""
    X = torch.stack([r.train.X for r in runs])  # (K, N, M, D)
    y = torch.stack([r.train.y for r in runs]).float()  # (K, N, 1)
    seeds = [data_seed(r.task, N, r.seed) for r in runs]
    models = [build_deepset(r.train, d + INIT).to(device) for r, d in zip(runs, seeds, strict=True)]
    phases = [(steps, "mse", s.lr, MSE_DRAWS)]
    if round(s.l1_fraction * steps):
        phases.append((round(s.l1_fraction * steps), "mae", s.l1_lr, L1_DRAWS))
    for n, loss, lr, offset in phases:
        train_on(
            models, (X, y), n, loss=loss, lr=lr, batch_size=s.batch_size,
            seeds=[d + offset for d in seeds], engine=Engine(progress=False, threads=s.threads),
        )  # fmt: skip
    return models


def deepset_predictions(model: PopStatsDeepSet, test: PopulationSets) -> np.ndarray:
    """The model's statistic of every test set, (T,) float64."""
    device = next(model.parameters()).device
    p = predict(model, test.X.to(device), test.mask.to(device))  # (T, 1)
    return p[:, 0].double().cpu().numpy()


def sdm_predictions(
    runs: list[Run], tests: dict[str, PopulationSets], s: PopstatsSettings
) -> list[np.ndarray]:
    """Each run's SDM fitted and evaluated on its task's test sets, (T,) float64 each; the
    fits shared out over the engine's workers (`resolve_workers`), forked, one BLAS thread each."""

    def one(r: Run) -> np.ndarray:
        model, W = fit_sdm(r.train, s.features, r.seed)
        test = tests[r.task]
        return model.predict(test.X @ W, test.mask)

    with threadpool_limits(1):  # one core per worker: the workers are the parallelism
        return fork_map(one, runs, resolve_workers())
