"""The exercise study's report: report.html rendered from its Jinja2 templates (templates/).

The template environment and the figure embedding are every study's (deepsets.lab.report).
"""

from __future__ import annotations

from pathlib import Path

from deepsets.lab.report import embedded_figures, environment
from deepsets.studies.exercise.results import StudyResults


def render_report(results: StudyResults, figures: dict[str, str]) -> str:
    """The report page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment("deepsets.studies.exercise").get_template("report.html.j2")
    return template.render(r=results, s=results.run.settings, f=results.findings, figures=figures)


def write_report(root: Path, results: StudyResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render_report(results, embedded_figures(root)), encoding="utf-8")
    return path
