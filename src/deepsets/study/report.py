"""The study's report: report.html rendered from Jinja2 templates (templates/*.html.j2).

Autoescaping is on, so no measured value or setting can inject markup. Figures are embedded as
base64 PNGs, so the page can be mailed or opened offline.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from deepsets.cluster import describe
from deepsets.study.results import StudyResults


def environment() -> Environment:
    """The report's template environment: autoescaped, failing on any undefined name."""
    env = Environment(
        loader=PackageLoader("deepsets.study"),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format  # {{ x|num(".4g") }}
    env.filters["tuple"] = tuple
    env.filters["cluster"] = describe  # {{ r.run.cluster|cluster }}: where the models trained
    return env


def embedded_figures(root: Path) -> dict[str, str]:
    """root/figures/<name>.png as base64 text, by name."""
    return {
        p.stem: base64.b64encode(p.read_bytes()).decode()
        for p in sorted((root / "figures").glob("*.png"))
    }


def render_report(results: StudyResults, figures: dict[str, str]) -> str:
    """The report page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment().get_template("report.html.j2")
    return template.render(r=results, s=results.run.settings, f=results.findings, figures=figures)


def write_report(root: Path, results: StudyResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render_report(results, embedded_figures(root)), encoding="utf-8")
    return path
