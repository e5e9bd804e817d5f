"""The study's console summary: a few rich tables with the report's headline numbers and findings.

It reads the typed results and the findings chosen in verdicts.py; it states nothing itself.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deepsets.cluster import describe
from deepsets.studies.exercise.results import StudyResults
from deepsets.studies.exercise.scores import Summary


def mean_std(stat: Summary, spec: str) -> str:
    return f"{stat.mean:{spec}} ± {stat.std:.1g}"


def training_table(r: StudyResults) -> Table:
    t = Table(title="Steps 2-5: training over seeds (mean ± std)")
    for col in ("model", "params", "final loss", "accuracy, all sets"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, score in (("DeepSet", r.training.deepset), ("MLP", r.training.mlp)):
        t.add_row(
            name,
            str(score.params),
            mean_std(score.final_loss, ".4g"),
            mean_std(score.accuracy, ".4f"),
        )
    return t


def invariance_table(r: StudyResults) -> Table:
    inv = r.invariance
    t = Table(title=f"Step 6: largest output change under {len(inv.permutations)} permutations")
    t.add_column("model")
    for j in range(len(inv.permutations)):
        t.add_column(f"perm {j + 1}", justify="right")
    for name, model in (("DeepSet", inv.deepset), ("MLP", inv.mlp)):
        t.add_row(name, *(f"{c:.2e}" for c in model.max_change_per_permutation))
    return t


def unseen_table(r: StudyResults) -> Table:
    se = r.sample_efficiency
    t = Table(title="8a: accuracy on unseen arrangements (mean over seeds, worst seed)")
    t.add_column("M per class", justify="right")
    for c in se.models:
        t.add_column(escape(c.label), justify="right")
    for z, M in enumerate(se.per_class):
        cells = (c.unseen_accuracy[z] for c in se.models)
        t.add_row(str(M), *(f"{a.mean:.3f} ({a.min:.3f})" for a in cells))
    return t


def print_summary(results: StudyResults, console: Console | None = None) -> None:
    """Print the headline numbers and findings of a finished study and where its report is."""
    console = console or Console()
    f = results.findings
    console.print(training_table(results))
    console.print(invariance_table(results))
    console.print(f"Step 6: {escape(f.invariance)}")
    console.print(f"7a: {escape(f.mlp_sweep)}")
    console.print(f"7b: {escape(f.linear_phi)}")
    console.print(unseen_table(results))
    console.print(f"8b: {escape(f.learning_speed)}")
    console.print(f"[bold]{escape(f.headline)}[/]")
    if f.extras is not None:
        console.print(f"Set sizes: {escape(f.extras.set_size)}")
        console.print(f"Latent width: {escape(f.extras.latent)}")
    run = results.run
    console.print(
        f"{run.models_trained} models trained in {run.timing.train_seconds:.1f} s; section 8 "
        f"{run.timing.symmetry_seconds:.1f} s; "
        f"study {run.timing.wall_seconds:.1f} s on {run.device}"
    )
    if run.cluster is not None:
        console.print(escape(describe(run.cluster)))
    console.print(f"Report: [bold]{escape(str(results.out / 'report.html'))}[/]")
