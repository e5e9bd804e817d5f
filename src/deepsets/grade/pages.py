"""The HTML pages: each submission's feedback.html, and index.html, the class at a glance
(a figure of the score distribution and of each check's pass rate, and links to every page)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import jinja2

from deepsets.grade.answers import Measured
from deepsets.grade.grading import Graded
from deepsets.grade.rubric import Rubric

ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("deepsets.grade", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def pass_rates(graded: Sequence[Graded], rubric: Rubric) -> dict[str, float]:
    """Each check's share of the class that passed it."""
    ids = [i for i, p in rubric.points.items() if p > 0]
    passed = {i: 0 for i in ids}
    for g in graded:
        for c in g.checks:
            passed[c.id] += c.passed
    return {i: passed[i] / max(len(graded), 1) for i in ids}


def figure(path: Path, graded: Sequence[Graded], rates: dict[str, float], top: float) -> None:
    """scores.png: a histogram of the scores, and the pass rate of each check."""
    from deepsets.plots import Figure  # no pyplot: nothing global, nothing to close

    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    bins = max(int(math.ceil(top)), 1) + 1  # one bar per point
    left.hist([g.score for g in graded], bins=bins, range=(-0.5, bins - 0.5), color="#4878a8",
              edgecolor="white")  # fmt: skip
    left.set(xlabel=f"score (of {top:g})", ylabel="submissions", title="Scores")
    names = list(rates)[::-1]
    right.barh(names, [100 * rates[n] for n in names], color="#6a9f58")
    right.set(xlim=(0, 100), xlabel="% of the class that passed", title="Checks")
    right.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_pages(
    out: Path, graded: Sequence[Graded], rubric: Rubric, measured: Measured | None, seed: int
) -> None:
    """index.html and scores.png in `out`, and feedback.html in each submission's folder."""
    rates = pass_rates(graded, rubric)
    figure(out / "scores.png", graded, rates, rubric.max_score)
    index = ENVIRONMENT.get_template("index.html.j2").render(
        graded=graded, rates=rates, rubric=rubric, seed=seed
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    page = ENVIRONMENT.get_template("feedback.html.j2")
    for g in graded:
        text = page.render(g=g, measured=measured, checks=[c for c in g.checks if not c.hidden])
        (out / g.submission / "feedback.html").write_text(text, encoding="utf-8")
