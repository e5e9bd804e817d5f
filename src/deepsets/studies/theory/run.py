"""`run_theory(settings)`: measure the five claims, then write report.html, figures/, weights/
and metrics.json into a staged output directory (atomic, as every study's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from rich.console import Console
from tqdm.auto import tqdm

from deepsets.cluster import cluster_info, describe
from deepsets.lab.console import print_summary as print_study
from deepsets.lab.output import default_out, staged, versions
from deepsets.lab.placement import run_device, study_threads
from deepsets.lab.quick import judged, label
from deepsets.lab.settings import workers_of
from deepsets.lab.weights import write_weights
from deepsets.plots import Figure
from deepsets.studies.theory.claims import averages, equivariance, injectivity, trap, width
from deepsets.studies.theory.report import write_report
from deepsets.studies.theory.results import TheoryResults
from deepsets.studies.theory.settings import TheorySettings, check
from deepsets.training import show_progress

CLAIMS = (width, injectivity, averages, equivariance, trap)  # in the report's order


def run_theory(settings: TheorySettings | None = None) -> TheoryResults:
    """Measure every claim and write the report; returns the results.

    Writes report.html, metrics.json, figures/*.png and weights/*.safetensors into
    `settings.out` (default: a fresh runs/<timestamp>), atomically: an interrupted run leaves
    nothing behind.
    """
    s = check(settings or TheorySettings())
    out = Path(s.out) if s.out is not None else default_out()
    with study_threads(s):
        return _run(s, run_device(s), out)


def _run(s: TheorySettings, device: torch.device, out: Path) -> TheoryResults:
    start = time.perf_counter()
    with staged(out, s.overwrite) as tmp:
        bar = tqdm(
            total=len(s.set_sizes) + 4, desc="theory", unit="run", disable=not show_progress(None)
        )
        claims, figures = [], {}
        for module in CLAIMS:
            bar.set_postfix_str(module.__name__.rsplit(".", 1)[-1])
            claim, fig = module.measure(s, lambda: bar.update())  # a tick per training call
            claims.append(claim)
            figures[claim.figure] = fig
        bar.close()
        write_figures(tmp, figures)
        write_weights(tmp, {f"{c.key}-{n}": m for c in claims for n, m in c.trained.items()})
        results = TheoryResults(
            out=out,
            settings=s,
            claims=judged(tuple(claims), s.quick),
            seeds=tuple(s.seed + k for k in range(s.seeds)),
            device=str(device),
            threads=torch.get_num_threads(),
            workers=workers_of(s, device),
            environment=versions(),
            wall_seconds=time.perf_counter() - start,
            cluster=cluster_info(),
        )
        (tmp / "metrics.json").write_text(json.dumps(results.to_json(), indent=2))
        write_report(tmp, results)
    return results


def write_figures(root: Path, figures: dict[str, Figure]) -> None:
    (root / "figures").mkdir()
    for name, fig in figures.items():
        fig.savefig(root / "figures" / f"{name}.png", dpi=110)


def print_summary(results: TheoryResults, console: Console | None = None) -> None:
    """The verdicts on the console (`lab.console`), then where the report is."""
    notes = [f"{results.wall_seconds:.0f} s on {results.device}"]
    if results.cluster is not None:
        notes.append(describe(results.cluster))
    shown = [(c.title, c.verdict) for c in results.claims]
    quick = label("theory", results.settings.quick)  # None for a full run
    print_study([], shown, notes, results.out / "report.html", console, label=quick)
