"""Every study's report page: one Jinja2 environment (autoescaped), figures embedded as base64.

Autoescaping is on, so no measured value or setting can inject markup. Figures are embedded as
base64 PNGs, so the page can be mailed or opened offline. A study's templates live in its own
`templates/` folder; the shared ones (macros.html.j2, report.css) in this package's.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from deepsets.cluster import describe
from deepsets.lab.quick import label


def environment(study: str) -> Environment:
    """The template environment of study package `study` (e.g. "deepsets.studies.digits"):
    its own templates, then the shared ones; autoescaped, failing on any undefined name."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader(study), PackageLoader("deepsets.lab")]),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format  # {{ x|num(".4g") }}
    env.filters["tuple"] = tuple
    env.filters["cluster"] = describe  # {{ r.run.cluster|cluster }}: where the models trained
    name = study.rsplit(".", 1)[-1]  # its name in the registry: "digits"
    env.globals["quick_label"] = lambda quick: label(name, quick)  # macros.html.j2's quick_run
    return env


def embedded_figures(root: Path) -> dict[str, str]:
    """root/figures/<name>.png as base64 text, by name."""
    return {
        p.stem: base64.b64encode(p.read_bytes()).decode()
        for p in sorted((root / "figures").glob("*.png"))
    }
