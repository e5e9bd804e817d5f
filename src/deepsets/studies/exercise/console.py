"""The study's console summary (`lab.console`): a few tables with the report's headline numbers,
then its verdicts.

It reads the typed results and the findings chosen in verdicts.py; it states nothing itself.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from deepsets.cluster import describe
from deepsets.lab.console import print_summary as print_study
from deepsets.lab.console import table
from deepsets.lab.quick import label
from deepsets.lab.verdict import Verdict
from deepsets.studies.exercise.results import StudyResults
from deepsets.studies.exercise.scores import Summary


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
    notes = [
        f"{run.models_trained} models trained in {run.timing.train_seconds:.1f} s; section 8 "
        f"{run.timing.symmetry_seconds:.1f} s; "
        f"study {run.timing.wall_seconds:.1f} s on {run.device}"
    ]
    if run.cluster is not None:
        notes.append(describe(run.cluster))
    tables = [training_table(results), invariance_table(results), unseen_table(results)]
    quick = label("exercise", results.run.settings.quick)  # None for a full run
    print_study(tables, verdicts(results), notes, results.out / "report.html", console, label=quick)
