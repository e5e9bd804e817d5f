"""Every study's console summary, in one rich style: its tables, its verdicts, where it ran.

A study builds its tables of numbers (`table`) and names its verdicts; `print_study` prints
them, then a verdict table (what was tested, the outcome, the sentence), the notes (time,
cluster) and where the report is. It states nothing itself: every word comes from the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deepsets.cluster import describe
from deepsets.lab.verdict import Outcome, Verdict, label

STYLE = {
    Outcome.CONFIRMED: "green",
    Outcome.PARTLY: "yellow",
    Outcome.REFUTED: "red",
    Outcome.UNMEASURED: "dim",
    Outcome.UNJUDGED: "dim",
}


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """A table of formatted cells: the first column left-aligned (names), the others right."""
    t = Table(title=escape(title))
    for i, col in enumerate(header):
        t.add_column(escape(col), justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*(escape(cell) for cell in row))
    return t


def verdict_table(verdicts: Sequence[tuple[str, Verdict]], title: str = "Verdicts") -> Table:
    """One row per (label, verdict): the label, the outcome (coloured) and the sentence."""
    t = Table(title=escape(title), show_lines=True)
    t.add_column("")
    t.add_column("outcome", no_wrap=True, min_width=max(len(o.value) for o in Outcome))
    t.add_column("finding", ratio=1)
    for name, v in verdicts:
        word = f"[{STYLE[v.outcome]}]{escape(v.outcome.value)}[/]"
        t.add_row(escape(name), word, escape(v.sentence))
    return t


def print_study(
    study: str,
    r: Any,
    tables: Sequence[Table],
    verdicts: Sequence[tuple[str, Verdict]],
    note: str,
    console: Console | None = None,
) -> None:
    """Print study `study`'s results `r` (its `out`, `cluster` and `settings.quick`): a quick
    run's label (`lab.verdict.label`), the tables, the verdicts, `note` (its time) and the cluster
    it ran on, then where its report is."""
    console = console or Console()
    quick = label(study, r.settings.quick)
    if quick is not None:
        console.print(f"[bold yellow]{escape(quick)}[/]")
    for t in tables:
        console.print(t)
    console.print(verdict_table(verdicts))
    console.print(escape(note))
    if r.cluster is not None:
        console.print(escape(describe(r.cluster)))
    console.print(f"Report: [bold]{escape(str(r.out / 'report.html'))}[/]")
