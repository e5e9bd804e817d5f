"""What `run_popstats` returns: test MSE by task, method and N over runs, and the verdicts.

`PopstatsResults.to_json()` is metrics.json; its schema is in docs/studies/popstats.md (an
interface others read: change both together).

Shape letters: S runs (seeds), T test sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from deepsets.lab.run import Ran, spread
from deepsets.lab.verdict import Verdict, jsonable, judged
from deepsets.studies.popstats import verdicts
from deepsets.studies.popstats.settings import METHODS, PopstatsSettings

SCHEMA = "popstats/1"


@dataclass(frozen=True)
class Cell:
    """Test MSE of one method at one N, one value per run."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def min(self) -> float:
        return float(np.min(self.values))

    @property
    def max(self) -> float:
        return float(np.max(self.values))

    def to_json(self) -> dict[str, Any]:
        return spread(self.values, "values")


@dataclass(frozen=True)
class Scatter:
    """The first run's predictions on the test sets at one N (the paper's top row)."""

    N: int
    truth: np.ndarray
    """(T,) the exact statistics."""
    predicted: dict[str, np.ndarray]
    """method -> (T,) its predictions."""


@dataclass(frozen=True)
class Findings:
    """The verdicts: per task where the curves cross, the falls-faster checks, and SDM at the
    smallest N."""

    crossover: dict[str, Verdict]
    falls_faster: dict[str, Verdict]
    kernel_small: Verdict

    def listed(self) -> list[tuple[str, Verdict]]:
        """(label, verdict) in the order the console and the report show them."""
        return [
            *((f"{t}: crossing", v) for t, v in self.crossover.items()),
            *((f"{t}: falls faster", v) for t, v in self.falls_faster.items()),
            ("SDM at the smallest N", self.kernel_small),
        ]


@dataclass(frozen=True)
class PopstatsResults(Ran):
    """Where the study wrote, how it ran (`lab.run.Ran`), and every test MSE it measured."""

    settings: PopstatsSettings
    mse: dict[str, dict[str, dict[int, Cell]]]
    """task -> method -> N -> test MSE over runs."""
    variance: dict[str, float]
    """task -> the variance of its test targets (the MSE of predicting their mean)."""
    scatter: dict[str, Scatter]
    cpu_seconds: dict[str, dict[int, float]]
    """method -> N -> CPU seconds of its runs at N, all tasks (this process and its workers)."""
    total_cpu_seconds: float
    """CPU seconds of the whole study (this process and its workers)."""

    def curve(self, task: str, method: str) -> dict[int, float]:
        """N -> mean test MSE over runs."""
        return {N: c.mean for N, c in self.mse[task][method].items()}

    @cached_property
    def crossover(self) -> dict[str, int | None]:
        """task -> the smallest N at which the DeepSet's mean MSE is below SDM's, or None."""
        return {
            t: verdicts.crossover_size(self.curve(t, "deepset"), self.curve(t, "sdm"))
            for t in self.mse
        }

    @cached_property
    def findings(self) -> Findings:
        ds = {t: self.curve(t, "deepset") for t in self.mse}
        sdm = {t: self.curve(t, "sdm") for t in self.mse}
        findings = Findings(
            crossover={t: verdicts.crossover(t, ds[t], sdm[t]) for t in self.mse},
            falls_faster={
                t: verdicts.falls_faster(t, ds[t], sdm[t])
                for t in verdicts.FALLS_FASTER_TASKS
                if t in self.mse
            },
            kernel_small=verdicts.kernel_better_small(ds, sdm),
        )
        return judged(findings, self.settings.quick)

    def largest(self, method: str) -> int:
        """The largest N `method` ran at."""
        return max(max(by[method]) for by in self.mse.values())

    def to_json(self) -> dict[str, Any]:
        """metrics.json: results[task][method][str(N)] = {"mean", "min", "max", "values"},
        crossover[task], the findings and the run."""
        results = {
            t: {m: {str(N): c.to_json() for N, c in by[m].items()} for m in METHODS}
            for t, by in self.mse.items()
        }
        metrics = {
            "schema": SCHEMA,
            "results": results,
            "crossover": self.crossover,
            "variance": self.variance,
            "largest_n": {m: self.largest(m) for m in METHODS},
            "findings": jsonable(self.findings),
            **self.run_json(self.settings),
            "test_sets": self.settings.test_sets,
            "cpu_seconds": {
                m: {str(N): c for N, c in by.items()} for m, by in self.cpu_seconds.items()
            },
            "total_cpu_seconds": self.total_cpu_seconds,
        }
        as_json: dict[str, Any] = json.loads(json.dumps(metrics))
        return as_json
