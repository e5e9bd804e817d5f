"""report.html of the population-statistics study, from the shared template environment."""

from __future__ import annotations

from pathlib import Path

from deepsets.lab.report import embedded_figures, environment
from deepsets.studies.popstats.models import NAMES
from deepsets.studies.popstats.results import PopstatsResults
from deepsets.studies.popstats.settings import sdm_sizes
from deepsets.studies.popstats.verdicts import PAPER


def render(results: PopstatsResults, figures: dict[str, str]) -> str:
    """The page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment("deepsets.studies.popstats").get_template("popstats.html.j2")
    Ns = sorted({N for by in results.mse.values() for c in by.values() for N in c})
    return template.render(
        r=results,
        s=results.settings,
        f=results.findings,
        figures=figures,
        names=NAMES,
        sizes=Ns,
        sdm_sizes=sdm_sizes(results.settings),
        paper=PAPER,
    )


def write_report(root: Path, results: PopstatsResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render(results, embedded_figures(root)), encoding="utf-8")
    return path
