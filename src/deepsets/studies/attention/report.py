"""report.html of the attention study, from the shared template environment (autoescaped)."""

from __future__ import annotations

from pathlib import Path

from deepsets.lab.report import embedded_figures, environment
from deepsets.studies.attention.models import NAMES
from deepsets.studies.attention.results import AttentionResults
from deepsets.studies.attention.verdicts import PAPER, SPREAD


def render(results: AttentionResults, figures: dict[str, str]) -> str:
    """The page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment("deepsets.studies.attention").get_template("attention.html.j2")
    best, worst = results.best_and_worst()
    return template.render(
        r=results, s=results.settings, f=results.findings, figures=figures, names=NAMES,
        paper=PAPER, spread=SPREAD, best=best, worst=worst,
    )  # fmt: skip


def write_report(root: Path, results: AttentionResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render(results, embedded_figures(root)), encoding="utf-8")
    return path
