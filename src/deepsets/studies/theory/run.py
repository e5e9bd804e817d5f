"""`run_theory(settings)`: measure the five claims, then write report.html, figures/ and
metrics.json into a staged output directory (atomic, as the exercise study's).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from deepsets.cluster import ClusterInfo, cluster_info
from deepsets.engine.settings import TORCH_THREADS, torch_threads
from deepsets.lab.output import default_out, staged, versions
from deepsets.studies.theory.claims import averages, equivariance, injectivity, trap, width
from deepsets.studies.theory.common import Claim
from deepsets.studies.theory.report import write_report
from deepsets.studies.theory.settings import TheorySettings, check
from deepsets.training import show_progress

CLAIMS = (width, injectivity, averages, equivariance, trap)  # in the report's order
SCHEMA_VERSION = 1  # of the theory study's metrics.json (README: "The theory study")


@dataclass(frozen=True)
class TheoryResults:
    """Where the study wrote, how it ran, and every claim as measured."""

    out: Path
    settings: TheorySettings
    claims: tuple[Claim, ...]
    seeds: tuple[int, ...]
    threads: int
    environment: dict[str, str]
    wall_seconds: float
    cluster: ClusterInfo | None = None
    """The Dask cluster the models trained on (`--scheduler`); None: in this process."""

    def to_json(self) -> dict[str, Any]:
        """The content of metrics.json, as JSON types."""
        claims = {
            c.key: {
                "title": c.title,
                "verdict": c.judgement.verdict,
                "finding": c.judgement.finding,
                "threshold": c.judgement.threshold,
                "numbers": c.numbers,
                "models": c.models,
                "seconds": c.seconds,
            }
            for c in self.claims
        }
        metrics = {
            "schema_version": SCHEMA_VERSION,
            "study": "theory",
            "settings": asdict(self.settings),
            "seeds": list(self.seeds),
            "threads": self.threads,
            "versions": self.environment,
            "wall_seconds": self.wall_seconds,
            "cluster": None if self.cluster is None else asdict(self.cluster),
            "claims": claims,
        }
        out: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
        return out


def run_theory(settings: TheorySettings | None = None) -> TheoryResults:
    """Measure every claim and write the report; returns the results.

    Writes report.html, metrics.json and figures/*.png into `settings.out` (default: a fresh
    runs/<timestamp>), atomically: an interrupted run leaves nothing behind.
    """
    s = check(settings or TheorySettings())
    out = Path(s.out) if s.out is not None else default_out()
    with torch_threads(TORCH_THREADS if s.threads is None else s.threads):
        return _run(s, out)


def _run(s: TheorySettings, out: Path) -> TheoryResults:
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
        results = TheoryResults(
            out=out,
            settings=s,
            claims=tuple(claims),
            seeds=tuple(s.seed + k for k in range(s.seeds)),
            threads=torch.get_num_threads(),
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


def print_summary(results: TheoryResults) -> None:
    """The verdicts on the console, then where the report is."""
    for c in results.claims:
        print(f"{c.title}: {c.judgement.verdict.upper()}. {c.judgement.finding}")
    print(f"{results.wall_seconds:.0f} s; report: {results.out / 'report.html'}")
