"""`run_attention(settings)`: train every model of both tables over runs, measure, write.

Writes report.html, metrics.json, figures/*.png and weights/*.safetensors into `settings.out`
(default: a fresh runs/<timestamp>), atomically (`lab.run.staging`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from deepsets.lab.console import print_study, table
from deepsets.lab.run import seed_weights, staging, write_run
from deepsets.studies.attention import figures
from deepsets.studies.attention.results import TASKS, AttentionResults
from deepsets.studies.attention.settings import (
    CLUSTER_MODELS,
    MAX_MODELS,
    AttentionSettings,
    resolve,
)
from deepsets.studies.attention.tasks import MixtureSets
from deepsets.studies.attention.train import (
    NAMES,
    Trained,
    cluster_sets,
    components,
    max_sets,
    oracle,
    test_log_likelihood,
    test_mae,
    train_task,
)
from deepsets.studies.attention.verdicts import PAPER, SPREAD
from deepsets.training import show_progress

log = logging.getLogger(__name__)
EXAMPLES = 4  # clustering test datasets drawn in the report


def run_attention(settings: AttentionSettings | None = None) -> AttentionResults:
    """Run the whole study and write its outputs; returns the results."""
    s = resolve(settings or AttentionSettings())
    with staging(s) as run:
        trained = train_both(s, run.device)
        values, oracle_value, test = measure(s, trained, run.device)
        results = AttentionResults(
            out=run.out,
            settings=s,
            seeds=tuple(s.seed + k for k in range(s.seeds)),
            values=values,
            oracle=oracle_value,
            losses={t: trained[t].losses for t in TASKS},
            train_seconds={t: trained[t].seconds for t in TASKS},
            train_cpu_seconds={t: trained[t].cpu_seconds for t in TASKS},
            wall_seconds=run.wall_seconds(),
            cpu_seconds=run.cpu_seconds(),
            **run.machine(s),
        )
        write_outputs(run.tmp, results, trained, test)
    return results


def train_both(s: AttentionSettings, device: torch.device) -> dict[str, Trained]:
    """Every model of both tasks, a run per seed."""
    seeds = [s.seed + k for k in range(s.seeds)]
    progress = show_progress(None)
    trained = {}
    for task, names in zip(TASKS, (tuple(MAX_MODELS), tuple(CLUSTER_MODELS)), strict=True):
        log.info("%s: training %d models x %d runs", task, len(names), len(seeds))
        trained[task] = train_task(task, s, names, seeds, device, progress)
        log.info("%s: trained in %.0f s", task, trained[task].seconds)
    return trained


def measure(
    s: AttentionSettings, trained: dict[str, Trained], device: torch.device
) -> tuple[dict[str, dict[str, np.ndarray]], float, MixtureSets]:
    """Test values task -> model -> (S,), the oracle, and the clustering's test datasets."""
    X, mask, y = (t.to(device) for t in max_sets(s, "test"))
    values = {"max_regression": {
        m: np.array([test_mae(model, X, mask, y) for model in runs])
        for m, runs in trained["max_regression"].models.items()
    }}  # fmt: skip
    test = cluster_sets(s, "test")
    values["clustering"] = {
        m: np.array([test_log_likelihood(model, test, s.components).mean() for model in runs])
        for m, runs in trained["clustering"].models.items()
    }
    return values, float(oracle(test).mean()), test


def write_outputs(
    root: Path, results: AttentionResults, trained: dict[str, Trained], test: MixtureSets
) -> None:
    """figures/*.png, weights/<task>-<model>-seed<s>.safetensors, metrics.json, report.html."""
    v = {t: {m: runs.tolist() for m, runs in results.values[t].items()} for t in TASKS}
    best, worst = results.best_and_worst()
    shown = test_subset(test, EXAMPLES)
    predicted = {
        f"{name} ({'best' if name == best else 'worst'})": mixture(
            trained["clustering"].models[name][0], shown, results.settings.components
        )
        for name in dict.fromkeys((best, worst))
    }
    figs = {
        "max_regression": figures.mae_by_model(v["max_regression"], PAPER["max_regression"]),
        "clustering": figures.likelihood_by_model(
            v["clustering"], PAPER["clustering"], results.oracle
        ),
        "clustering_examples": figures.clustering_examples(
            shown.points.numpy(), shown.mask.numpy(), shown.mu.numpy(), predicted
        ),
    }
    weights = seed_weights(results.seeds, {task: t.models for task, t in trained.items()})
    write_run(root, "attention", figs, weights, results.to_json(), r=results,
              s=results.settings, f=results.findings, names=NAMES, paper=PAPER, spread=SPREAD,
              best=best, worst=worst)  # fmt: skip


def test_subset(sets: MixtureSets, n: int) -> MixtureSets:
    """The first n datasets of `sets`."""
    return MixtureSets(sets.points[:n], sets.mask[:n], sets.pi[:n], sets.mu[:n], sets.sigma[:n])


def mixture(model: torch.nn.Module, sets: MixtureSets, K: int) -> figures.Mixture:
    """pi (E, K), mu (E, K, 2), sigma (E, K) the model predicts for `sets`, as numpy."""
    log_pi, mu, sigma = components(model, sets, K)
    return log_pi.exp().numpy(), mu.numpy(), sigma.numpy()


def print_summary(results: AttentionResults, console: Console | None = None) -> None:
    """What `deepsets run attention` prints: both tables beside the paper's, the verdicts."""
    f = results.findings
    tables = []
    for task, title, spec in (
        ("max_regression", "Max regression: test MAE", ".4f"),
        ("clustering", "Clustering: test log-likelihood per point", ".4f"),
    ):
        rows = []
        if task == "clustering":
            rows.append(
                ("oracle", f"{results.oracle:{spec}}", "", "", f"{PAPER[task]['oracle'][0]}", "")
            )
        for m, v in results.values[task].items():
            paper, std = PAPER[task][m]
            rows.append((m, f"{v.mean():{spec}}", f"{v.min():{spec}}", f"{v.max():{spec}}",
                         f"{paper}" + ("" if std is None else f" +- {std}"),
                         f.models[task][m].outcome.value))  # fmt: skip
        header = ("model", f"mean ({len(results.seeds)} runs)", "min", "max", "paper", "verdict")
        tables.append(table(title, header, rows))
    shown = [*((f"{t} order", f.ordering[t]) for t in TASKS), *f.targets]
    note = f"{results.wall_seconds:.0f} s wall, {results.cpu_seconds:.0f} CPU-s on {results.device}"
    print_study("attention", results, tables, shown, note, console)
