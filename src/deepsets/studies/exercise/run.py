"""`run_study(settings)`: every step of the exercise, and the questions beyond it, over seeds.

Each section declares the variants it needs on one `Plan`; the plan trains them all together
(the ensemble trainer stacks models of one architecture), then each section measures its own.
Run s of every model uses seed + s for both its initialisation and its data stream, so the
DeepSet and the MLP of a run see the same batches.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import torch

from deepsets.cluster import cluster_info
from deepsets.data import all_sets
from deepsets.engine.forked import fork_map
from deepsets.engine.settings import resolve_workers
from deepsets.lab.output import default_out, staged
from deepsets.lab.report import embedded_figures, environment
from deepsets.lab.run import run_device, study_threads, versions
from deepsets.lab.settings import workers_of
from deepsets.lab.weights import write_weights
from deepsets.plots import Figure
from deepsets.studies.exercise.checks import check
from deepsets.studies.exercise.measured import measure
from deepsets.studies.exercise.plan import Plan, Runs, checkpoints, declare, saved
from deepsets.studies.exercise.results import DataShown, RunInfo, StudyResults, Timing
from deepsets.studies.exercise.scores import TestSet
from deepsets.studies.exercise.sections import training
from deepsets.studies.exercise.settings import StudySettings
from deepsets.training import progress_bar, show_progress

log = logging.getLogger(__name__)


def scored_sets(seed: int, device: torch.device) -> TestSet:
    """Every distinct set (`all_sets`) in an order shuffled by `seed`, so that the invariance
    check, which permutes the first sets, sees both classes. Scores over them have no sampling
    noise, but every one of these sets was also seen in training."""
    X, y = all_sets(device=device)  # (B, N, 1), (B, 1): class 0 first, then class 1
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).to(device)
    return X[order], y[order]


def run_study(settings: StudySettings | None = None) -> StudyResults:
    """Run the whole study and write its report; returns the output directory and the results.

    Writes report.html, metrics.json, figures/*.png and weights/*.safetensors into
    `settings.out` (default: a fresh runs/<timestamp>), atomically.
    """
    s = check(settings or StudySettings())
    out = Path(s.out) if s.out is not None else default_out()
    with study_threads(s):
        return _run(s, run_device(s), out)


def _run(s: StudySettings, device: torch.device, out: Path) -> StudyResults:
    start = time.perf_counter()
    with staged(out, s.overwrite) as tmp:
        progress = show_progress(None)
        stages = progress_bar(3, "study", progress, unit="stages")
        plan = Plan([s.seed + k for k in range(s.seeds)], device)
        declare(plan, s)
        test = scored_sets(s.seed, device)
        log.info("training %d models x %d steps", plan.n_models, s.steps)
        stages.set_postfix_str(f"training {plan.n_models} models")
        t0 = time.perf_counter()
        trained = plan.train(s, progress, checkpoints(s.steps)[:-1])
        train_seconds = time.perf_counter() - t0
        stages.update()
        sections, figs, symmetry_seconds = measure(trained, s, test, plan)
        stages.update()
        write_figures(tmp, figs)
        save_weights(tmp, [trained[v] for v in saved(s)])
        run = RunInfo(
            settings=s,
            seeds=tuple(plan.seeds),
            device=str(device),
            threads=torch.get_num_threads(),
            workers=workers_of(s, device),
            environment=versions(),
            models_trained=plan.n_models,
            data=DataShown(training.SHOWN_SETS, int(test[0].shape[0])),
            timing=Timing(train_seconds, symmetry_seconds, time.perf_counter() - start),
            cluster=cluster_info(),
        )
        results = StudyResults.of(sections, out, run)
        (tmp / "metrics.json").write_text(json.dumps(results.metrics, indent=2))
        write_report(tmp, results)
        stages.update()
        stages.close()
    return results


def write_figures(root: Path, figs: Mapping[str, Figure]) -> None:
    """figures/<name>.png for every figure, drawn side by side in the engine's worker
    processes (matplotlib draws on one core)."""
    (root / "figures").mkdir()

    def save(name: str) -> None:
        figs[name].savefig(root / "figures" / f"{name}.png", dpi=110)

    fork_map(save, list(figs), resolve_workers())


def save_weights(root: Path, runs: list[Runs]) -> None:
    """weights/<variant>-seed<s>.safetensors for every seed of each of `runs`."""
    write_weights(
        root,
        {
            f"{r.variant.name}-seed{seed}": model
            for r in runs
            for seed, model in zip(r.seeds, r.models, strict=True)
        },
    )


def render_report(results: StudyResults, figures: dict[str, str]) -> str:
    """report.html (templates/report.html.j2): `results`, `figures` (name -> base64 PNG)."""
    template = environment("deepsets.studies.exercise").get_template("report.html.j2")
    return template.render(r=results, s=results.run.settings, f=results.findings, figures=figures)


def write_report(root: Path, results: StudyResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render_report(results, embedded_figures(root)), encoding="utf-8")
    return path
