"""`run_digits(settings)`: train every model on both tasks over seeds, measure, write the report.

Writes report.html, metrics.json, figures/*.png and weights/*.safetensors into `settings.out`
(default: a fresh runs/<timestamp>), atomically (`lab.run.staging`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.console import Console

from deepsets.lab.console import print_study, table
from deepsets.lab.run import seed_weights, staging, write_run
from deepsets.studies.digits import figures, verdicts
from deepsets.studies.digits.models import NAMES
from deepsets.studies.digits.results import CEILING_NAME, PAPER_NAME, DigitsResults
from deepsets.studies.digits.settings import MODELS, TASKS, DigitsSettings, resolve
from deepsets.studies.digits.tasks import image_split
from deepsets.studies.digits.train import Trained, evaluate, train_task
from deepsets.training import show_progress

log = logging.getLogger(__name__)


def run_digits(settings: DigitsSettings | None = None) -> DigitsResults:
    """Run the whole study and write its outputs; returns the results."""
    s = resolve(settings or DigitsSettings())
    seeds = [s.seed + k for k in range(s.seeds)]
    progress = show_progress(None)
    with staging(s) as run:
        trained: dict[str, Trained] = {}
        for task in TASKS:
            log.info("%s: training %d models x %d runs", task, len(MODELS), len(seeds))
            trained[task] = train_task(task, s, seeds, run.device, progress)
            log.info("%s: trained in %.0f s", task, trained[task].seconds)
        t0 = time.perf_counter()
        measured = {task: evaluate(trained[task], s, run.device) for task in TASKS}
        log.info("evaluated %d lengths in %.0f s", len(s.lengths), time.perf_counter() - t0)
        results = DigitsResults(
            out=run.out,
            settings=s,
            seeds=tuple(seeds),
            accuracy={task: e.accuracy for task, e in measured.items()},
            losses={task: t.losses for task, t in trained.items()},
            train_seconds={task: t.seconds for task, t in trained.items()},
            wall_seconds=run.wall_seconds(),
            **run.machine(s, "scikit-learn"),
            ceiling=measured["image"].ceiling,
            per_object={task: e.per_object for task, e in measured.items()},
            cpu_seconds=run.cpu_seconds(),
        )
        write_outputs(run.tmp, results, trained)
    return results


def write_outputs(root: Path, results: DigitsResults, trained: dict[str, Trained]) -> None:
    """figures/*.png, weights/<task>-<model>-seed<s>.safetensors, metrics.json, report.html."""
    s = results.settings
    phases = {
        task: sorted({p.steps for p in t.schedules.values() if p.fine_steps})
        for task, t in trained.items()
    }
    figs = {
        "accuracy_by_length": figures.accuracy_by_length(
            s.lengths, results.accuracy, s.train_sizes, results.ceiling_curve,
            {n: a for n, a in verdicts.PAPER_IMAGE.items() if n <= max(s.lengths)},
        ),  # fmt: skip
        "training_curves": figures.training_curves(results.losses, phases),
    }
    weights = seed_weights(results.seeds, {task: t.models for task, t in trained.items()})
    write_run(root, "digits", figs, weights, results.to_json(), r=results, s=s,
              f=results.findings, names=NAMES, paper_image=verdicts.PAPER_IMAGE,
              n_train_images=len(image_split("train")[1]),
              n_test_images=len(image_split("test")[1]))  # fmt: skip


def print_summary(results: DigitsResults, console: Console | None = None) -> None:
    """What `deepsets run digits` prints: the accuracy table, the verdicts, where the run is."""
    rows = results.table()
    header = ("task", "model", *map(str, rows[0]["lengths"]))
    cells = [
        (r["task"], r["model"], *("-" if m is None else f"{m:.3f}" for m in r["mean"]))
        for r in rows
    ]
    title = (
        f"Accuracy (mean over {len(results.seeds)} runs) by number of digits; {CEILING_NAME}: "
        f"SVC on single images; {PAPER_NAME}: read from its figure, not tested at 100"
    )
    f = results.findings
    shown = [("text DeepSet", f.text_deepset), ("text LSTM", f.lstm), ("text GRU", f.gru),
             ("image DeepSet vs LSTM, GRU", f.image), ("image DeepSet targets", f.image_targets),
             ("image DeepSet vs ceiling", f.image_ceiling),
             ("Set Transformer", f.set_transformer),
             ("counting Set Transformer", f.counting)]  # fmt: skip
    cpu = "" if results.cpu_seconds is None else f" ({results.cpu_seconds:.0f} s CPU)"
    note = f"{results.wall_seconds:.0f} s on {results.device}{cpu}"
    singles = [
        (task, NAMES[m], f"{a.mean():.4f}", f"{a.min():.4f}")
        for task, by_model in (results.per_object or {}).items()
        for m, a in by_model.items()
    ]
    if results.ceiling is not None:
        p = results.ceiling.per_image
        singles.append(("image", CEILING_NAME, f"{p:.4f}", f"{p:.4f}"))
    single = table(
        "Accuracy on single objects (test images; text: the tokens 1..9), rounded",
        ("task", "model", "mean", "min"), singles,
    )  # fmt: skip
    print_study("digits", results, [table(title, header, cells), single], shown, note, console)
