"""`run_theory(settings)`: measure the five claims, then write report.html, figures/, weights/
and metrics.json into a staged output directory (`lab.run`). `TheoryResults.to_json()` is
metrics.json; its schema is in docs/studies/theory.md (change both together).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from deepsets.lab.console import print_study
from deepsets.lab.run import Ran, staging, write_run
from deepsets.lab.verdict import judged
from deepsets.studies.theory.claims import averages, equivariance, injectivity, trap, width
from deepsets.studies.theory.common import Claim
from deepsets.studies.theory.settings import TheorySettings, check
from deepsets.training import progress_bar, show_progress

SCHEMA_VERSION = 2  # of metrics.json; 1: verdict, finding, threshold


@dataclass(frozen=True)
class TheoryResults(Ran):
    """Where the study wrote, how it ran (`lab.run.Ran`), and every claim as measured."""

    settings: TheorySettings
    claims: tuple[Claim, ...]

    def to_json(self) -> dict[str, Any]:
        """The content of metrics.json, as JSON types."""
        claims = {
            c.key: {
                "title": c.title,
                "verdict": c.verdict.to_json(),
                "numbers": c.numbers,
                "models": c.models,
                "seconds": c.seconds,
            }
            for c in self.claims
        }
        metrics = {
            "schema_version": SCHEMA_VERSION,
            "study": "theory",
            **self.run_json(self.settings),
            "claims": claims,
        }
        out: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
        return out


CLAIMS = (width, injectivity, averages, equivariance, trap)  # in the report's order


def run_theory(settings: TheorySettings | None = None) -> TheoryResults:
    """Measure every claim and write the report; returns the results."""
    s = check(settings or TheorySettings())
    with staging(s) as run:
        bar = progress_bar(len(s.set_sizes) + 4, "theory", show_progress(None), unit="runs")
        claims, figures = [], {}
        for module in CLAIMS:
            bar.set_postfix_str(module.__name__.rsplit(".", 1)[-1])
            claim, fig = module.measure(s, lambda: bar.update())  # a tick per training call
            claims.append(claim)
            figures[claim.figure] = fig
        bar.close()
        results = TheoryResults(
            out=run.out,
            settings=s,
            claims=judged(tuple(claims), s.quick),
            seeds=tuple(s.seed + k for k in range(s.seeds)),
            wall_seconds=run.wall_seconds(),
            **run.machine(s),
        )
        weights = {f"{c.key}-{n}": m for c in claims for n, m in c.trained.items()}
        write_run(run.tmp, "theory", figures, weights, results.to_json(), r=results, s=s)
    return results


def print_summary(results: TheoryResults, console: Console | None = None) -> None:
    """The verdicts on the console (`lab.console`), then where the report is."""
    shown = [(c.title, c.verdict) for c in results.claims]
    note = f"{results.wall_seconds:.0f} s on {results.device}"
    print_study("theory", results, [], shown, note, console)
