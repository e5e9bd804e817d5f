"""report.html of the digit-sum study, from the shared template environment (autoescaped)."""

from __future__ import annotations

from pathlib import Path

from deepsets.lab.report import embedded_figures, environment
from deepsets.studies.digits.models import NAMES
from deepsets.studies.digits.results import DigitsResults
from deepsets.studies.digits.tasks import image_split
from deepsets.studies.digits.verdicts import PAPER_IMAGE


def render(results: DigitsResults, figures: dict[str, str]) -> str:
    """The page for `results`, with `figures` (name -> base64 PNG) embedded."""
    template = environment("deepsets.studies.digits").get_template("digits.html.j2")
    return template.render(
        r=results,
        s=results.settings,
        f=results.findings,
        figures=figures,
        names=NAMES,
        paper_image=PAPER_IMAGE,
        n_train_images=len(image_split("train")[1]),
        n_test_images=len(image_split("test")[1]),
    )


def write_report(root: Path, results: DigitsResults) -> Path:
    """Write root/report.html from the results and root/figures/*.png."""
    path = root / "report.html"
    path.write_text(render(results, embedded_figures(root)), encoding="utf-8")
    return path
