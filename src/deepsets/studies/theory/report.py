"""The theory study's report.html: templates/theory.html.j2, figures embedded (one file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deepsets.lab.report import embedded_figures, environment

if TYPE_CHECKING:
    from deepsets.studies.theory.results import TheoryResults


def render_report(results: TheoryResults, figures: dict[str, str]) -> str:
    """The report page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment("deepsets.studies.theory").get_template("theory.html.j2")
    return template.render(r=results, s=results.settings, figures=figures)


def write_report(root: Path, results: TheoryResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render_report(results, embedded_figures(root)), encoding="utf-8")
    return path
