"""`run_popstats(settings)`: both methods on every task at every N over seeds, measured on the
same fresh test sets, then the figures, metrics.json, the weights and report.html.

Writes into `settings.out` (default: a fresh runs/<timestamp>), atomically (`lab.run.staging`).
Per N, the DeepSets of the tasks of one sample dimension train in one engine call per phase
(rotation's D = 2 apart from the others' D = 32), then the kernel method's fits of those runs,
shared out over forked workers.

Run k of task t at N trains on its own sets, drawn from `data_seed(t, N, k)`; its DeepSet and
SDM see the same sets (and the same whitening, from their samples). The DeepSet trains on MSE
for `steps` Adam steps, then on L1 for `l1_fraction` as many at `l1_lr`: the paper's code
trains on MSE, then on L1 with a plateau schedule, for which the lower lr stands in.

Shape letters: K runs in one engine call, N training sets, M samples per set, D sample
dimension, T test sets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from deepsets.engine.forked import fork_map
from deepsets.engine.settings import resolve_workers
from deepsets.lab.console import print_study, table
from deepsets.lab.run import cpu_seconds, staging, train_phases, write_run
from deepsets.studies.popstats import figures
from deepsets.studies.popstats.models import NAMES, PopStatsDeepSet, build_deepset, fit_sdm
from deepsets.studies.popstats.results import Cell, PopstatsResults, Scatter
from deepsets.studies.popstats.settings import PopstatsSettings, resolve, scatter_size, sdm_sizes
from deepsets.studies.popstats.tasks import DIMENSIONS, TASKS, PopulationSets, population_sets
from deepsets.studies.popstats.verdicts import PAPER
from deepsets.training import predict

log = logging.getLogger(__name__)
Saved = dict[str, PopStatsDeepSet]  # weight name <task>-n<N>-seed<s> -> the trained DeepSet


def groups(tasks: tuple[str, ...]) -> list[list[str]]:
    """The tasks by sample dimension: each group's DeepSets train in one engine call."""
    by_d: dict[int, list[str]] = {}
    for t in tasks:
        by_d.setdefault(DIMENSIONS[t], []).append(t)
    return list(by_d.values())


@dataclass
class Tally:
    """What the study has measured so far (filled N by N)."""

    mse: dict[str, dict[str, dict[int, Cell]]]
    scatter: dict[str, dict[str, np.ndarray]]
    cpu: dict[str, dict[int, float]] = field(default_factory=lambda: {"deepset": {}, "sdm": {}})
    saved: Saved = field(default_factory=dict)


def run_popstats(settings: PopstatsSettings | None = None) -> PopstatsResults:
    """Run the whole study and write its outputs; returns the results."""
    s = resolve(settings or PopstatsSettings())
    seeds = tuple(s.seed + k for k in range(s.seeds))
    with staging(s) as run:
        tests = {t: test_sets(t, s) for t in s.tasks}
        tally = Tally({t: {"deepset": {}, "sdm": {}} for t in s.tasks}, {t: {} for t in s.tasks})
        for N, steps in zip(s.sizes, s.steps, strict=True):
            measure_size(N, steps, s, seeds, run.device, tests, tally)
        at = scatter_size(s)
        results = PopstatsResults(
            out=run.out,
            settings=s,
            seeds=seeds,
            mse=tally.mse,
            variance={t: float(tests[t].y.var()) for t in s.tasks},
            scatter={t: Scatter(at, tests[t].y[:, 0].numpy(), tally.scatter[t]) for t in s.tasks},
            cpu_seconds=tally.cpu,
            total_cpu_seconds=run.cpu_seconds(),
            wall_seconds=run.wall_seconds(),
            **run.machine(s, "scikit-learn"),
        )
        write_outputs(run.tmp, results, tally.saved)
    return results


def measure_size(
    N: int,
    steps: int,
    s: PopstatsSettings,
    seeds: tuple[int, ...],
    device: torch.device,
    tests: dict[str, PopulationSets],
    tally: Tally,
) -> None:
    """Train and test both methods on every task at N; their numbers go into `tally`."""
    cpu = tally.cpu
    cpu["deepset"][N] = 0.0
    if N <= s.sdm_max:
        cpu["sdm"][N] = 0.0
    for tasks in groups(s.tasks):
        runs = draw_runs(tasks, N, seeds, s)
        c0 = cpu_seconds()
        models = train_deepsets(runs, N, steps, s, device)
        preds = {
            "deepset": [
                deepset_predictions(m, tests[r.task]) for r, m in zip(runs, models, strict=True)
            ]
        }
        cpu["deepset"][N] += cpu_seconds() - c0
        for r, m in zip(runs, models, strict=True):
            tally.saved[f"{r.task}-n{N}-seed{r.seed}"] = m
        if N <= s.sdm_max:
            c0 = cpu_seconds()
            preds["sdm"] = sdm_predictions(runs, tests, s)
            cpu["sdm"][N] += cpu_seconds() - c0
        for method, p in preds.items():
            for t in tasks:
                mine = [q for r, q in zip(runs, p, strict=True) if r.task == t]
                y = tests[t].y[:, 0].numpy()
                tally.mse[t][method][N] = Cell(tuple(float(np.mean((q - y) ** 2)) for q in mine))
                if N == scatter_size(s):
                    tally.scatter[t][method] = mine[0]
    log.info("N = %d: DeepSet %.0f CPU-s, SDM %.0f CPU-s; test MSE %s", N, cpu["deepset"][N],
             cpu["sdm"].get(N, 0.0), progress_line(tally.mse, N))  # fmt: skip


def progress_line(mse: dict[str, dict[str, dict[int, Cell]]], N: int) -> str:
    """'rank1 0.0123 (SDM 0.00998), ...': each task's mean test MSE at N."""
    return ", ".join(
        f"{t} {by['deepset'][N].mean:.3g}"
        + (f" (SDM {by['sdm'][N].mean:.3g})" if N in by["sdm"] else "")
        for t, by in mse.items()
    )


def write_outputs(root: Path, results: PopstatsResults, saved: Saved) -> None:
    """figures/*.png, weights/<task>-n<N>-seed<s>.safetensors, metrics.json, report.html."""
    mse = {
        t: {m: {N: c.values for N, c in by_n.items()} for m, by_n in by.items()}
        for t, by in results.mse.items()
    }
    sc = results.scatter
    figs = {
        "mse_by_size": figures.mse_by_size(mse, results.variance),
        "predicted_vs_true": figures.predicted_vs_true(
            {t: v.truth for t, v in sc.items()},
            {t: v.predicted for t, v in sc.items()},
            next(iter(sc.values())).N,
        ),
    }
    write_run(root, "popstats", figs, saved, results.to_json(), r=results, s=results.settings,
              f=results.findings, names=NAMES, sizes=sizes(results),
              sdm_sizes=sdm_sizes(results.settings), paper=PAPER)  # fmt: skip


def sizes(results: PopstatsResults) -> list[int]:
    """Every N measured, ascending."""
    return sorted({N for by in results.mse.values() for c in by.values() for N in c})


def print_summary(results: PopstatsResults, console: Console | None = None) -> None:
    """What `deepsets run popstats` prints: the MSE table, the verdicts, where the run is."""
    Ns = sizes(results)
    cells = []
    for task, by in results.mse.items():
        for method, by_n in by.items():
            cells.append(
                (task, NAMES[method], *(f"{by_n[N].mean:.4g}" if N in by_n else "-" for N in Ns))
            )
    runs, sets = len(results.seeds), results.settings.test_sets
    title = f"Test MSE (mean over {runs} runs, {sets} test sets per task) by N"
    total = results.total_cpu_seconds
    note = (
        f"{results.wall_seconds:.0f} s wall, {total:.0f} CPU-s on {results.device}; largest N: "
        f"DeepSet {results.largest('deepset')}, SDM {results.largest('sdm')} (sdm_max)"
    )
    tables = [table(title, ("task", "method", *map(str, Ns)), cells)]
    print_study("popstats", results, tables, results.findings.listed(), note, console)


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
    phases = [(steps, s.lr, [d + MSE_DRAWS for d in seeds], "mse"),
              (round(s.l1_fraction * steps), s.l1_lr, [d + L1_DRAWS for d in seeds], "mae")]
    train_phases(list(models), (X, y), phases, s.batch_size, s.threads)  # fmt: skip
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
