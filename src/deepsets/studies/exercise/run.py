"""`run_study(settings)`: every step of the exercise, and the questions beyond it, over seeds;
`print_summary`, its console summary.

Each section declares the variants it needs on one `Plan`; the plan trains them all together
(the ensemble trainer stacks models of one architecture), then each section measures its own
(`measure`). Run s of every model uses seed + s for both its initialisation and its data
stream, so the DeepSet and the MLP of a run see the same batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import torch
from rich.console import Console
from rich.table import Table

from deepsets.data import all_sets
from deepsets.lab.console import print_study, table
from deepsets.lab.run import staging, write_run
from deepsets.lab.verdict import Verdict
from deepsets.plots import Figure
from deepsets.studies.exercise.plan import (
    Plan,
    Runs,
    Variant,
    check,
    checkpoints,
    declare,
    exercise_deepset,
    exercise_mlp,
    saved,
    sweep_variants,
)
from deepsets.studies.exercise.results import DataShown, RunInfo, Sections, StudyResults, Timing
from deepsets.studies.exercise.scores import Summary, TestSet
from deepsets.studies.exercise.sections import beyond, linear_phi, steps, sweep, symmetry
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
    """Run the whole study and write report.html, metrics.json, figures/*.png and
    weights/*.safetensors into `settings.out` (default: a fresh runs/<timestamp>), atomically
    (`lab.run.staging`); returns the results."""
    s = check(settings or StudySettings())
    with staging(s) as run:
        progress = show_progress(None)
        stages = progress_bar(3, "study", progress, unit="stages")
        plan = Plan([s.seed + k for k in range(s.seeds)], run.device)
        declare(plan, s)
        test = scored_sets(s.seed, run.device)
        log.info("training %d models x %d steps", plan.n_models, s.steps)
        stages.set_postfix_str(f"training {plan.n_models} models")
        t0 = time.perf_counter()
        trained = plan.train(s, progress, checkpoints(s.steps)[:-1])
        train_seconds = time.perf_counter() - t0
        stages.update()
        sections, figs, symmetry_seconds = measure(trained, s, test, plan)
        stages.update()
        info = RunInfo(
            settings=s,
            seeds=tuple(plan.seeds),
            models_trained=plan.n_models,
            data=DataShown(steps.SHOWN_SETS, int(test[0].shape[0])),
            timing=Timing(train_seconds, symmetry_seconds, run.wall_seconds()),
            **run.machine(s),
        )
        results = StudyResults.of(sections, run.out, info)
        weights = {
            f"{r.variant.name}-seed{seed}": model
            for r in (trained[v] for v in saved(s))
            for seed, model in zip(r.seeds, r.models, strict=True)
        }
        write_run(run.tmp, "exercise", figs, weights, results.metrics, "report.html.j2",
                  r=results, s=s, f=results.findings)  # fmt: skip
        stages.update()
        stages.close()
    return results


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet, plan: Plan
) -> tuple[Sections, dict[str, Figure], float]:
    """Every section's results, the figures by file name, and the seconds the two sections on
    what the symmetry buys took (they train their own models). The sweep trains the sizes its
    brackets lack on `plan`'s seeds and device."""

    def train_more(variants: list[Variant]) -> Mapping[Variant, Runs]:
        more = Plan(plan.seeds, plan.device)
        for variant in variants:
            more.declare(variant)
        log.info("7a: training %d more MLPs between the sweep's sizes", len(variants))
        return more.train(s, show_progress(None))

    training_result, figs = steps.measure_training(trained, s, test)
    deepset = training_result.deepset
    sweep_result, more = sweep.measure(
        trained, sweep_variants(s), s, test, deepset, train_more, trained[exercise_mlp(s)]
    )
    figs |= more
    linear_result, more = linear_phi.measure(trained, s, test)
    figs |= more
    t0 = time.perf_counter()
    seeds = trained[exercise_deepset(s)].seeds
    efficiency, more = symmetry.measure_sample_efficiency(s, seeds, sweep_result, test)
    figs |= more
    speed, more = symmetry.measure_learning_speed(trained, s, test)
    figs |= more
    symmetry_seconds = time.perf_counter() - t0
    extras_result = None
    if s.extras:
        extras_result, more = beyond.measure(trained, s, test)
        figs |= more
    sections = Sections(
        training=training_result,
        invariance=steps.measure_invariance(trained, s, test),
        mlp_sweep=sweep_result,
        linear_phi=linear_result,
        sample_efficiency=efficiency,
        learning_speed=speed,
        extras=extras_result,
    )
    return sections, figs, symmetry_seconds


def mean_std(stat: Summary, spec: str) -> str:
    return f"{stat.mean:{spec}} ± {stat.std:.1g}"


def training_table(r: StudyResults) -> Table:
    rows = [
        (name, str(s.params), mean_std(s.final_loss, ".4g"), mean_std(s.accuracy, ".4f"))
        for name, s in (("DeepSet", r.training.deepset), ("MLP", r.training.mlp))
    ]
    header = ("model", "params", "final loss", "accuracy, all sets")
    return table("Steps 2-5: training over seeds (mean ± std)", header, rows)


def invariance_table(r: StudyResults) -> Table:
    inv = r.invariance
    k = len(inv.permutations)
    rows = [
        (name, *(f"{c:.2e}" for c in model.max_change_per_permutation))
        for name, model in (("DeepSet", inv.deepset), ("MLP", inv.mlp))
    ]
    header = ("model", *(f"perm {j + 1}" for j in range(k)))
    return table(f"Step 6: largest output change under {k} permutations", header, rows)


def unseen_table(r: StudyResults) -> Table:
    se = r.sample_efficiency
    rows = [
        (
            str(M),
            *(f"{a.mean:.3f} ({a.min:.3f})" for a in (c.unseen_accuracy[z] for c in se.models)),
        )
        for z, M in enumerate(se.per_class)
    ]
    header = ("M per class", *(c.label for c in se.models))
    return table("8a: accuracy on unseen arrangements (mean over seeds, worst seed)", header, rows)


def verdicts(results: StudyResults) -> list[tuple[str, Verdict]]:
    """The findings the console shows, labelled by their question."""
    f = results.findings
    shown = [
        ("Step 6", f.invariance), ("7a", f.mlp_sweep), ("7b", f.linear_phi),
        ("8a", f.sample_efficiency), ("8b", f.learning_speed), ("Headline", f.headline),
    ]  # fmt: skip
    if f.extras is not None:
        shown += [("Set sizes", f.extras.set_size), ("Latent width", f.extras.latent)]
    return shown


def print_summary(results: StudyResults, console: Console | None = None) -> None:
    """Print the headline numbers and findings of a finished study and where its report is."""
    run = results.run
    note = (
        f"{run.models_trained} models trained in {run.timing.train_seconds:.1f} s; section 8 "
        f"{run.timing.symmetry_seconds:.1f} s; "
        f"study {run.timing.wall_seconds:.1f} s on {run.device}"
    )
    tables = [training_table(results), invariance_table(results), unseen_table(results)]
    print_study("exercise", results, tables, verdicts(results), note, console)
