"""What `run_study` returns: every section's typed results, the run's facts and its findings.

`StudyResults.to_json()` is metrics.json; its schema is documented in the README's
"metrics.json" section (an interface others read: change both together).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from deepsets.cluster import ClusterInfo
from deepsets.lab.quick import judged
from deepsets.lab.verdict import jsonable
from deepsets.studies.exercise.findings import Findings, findings
from deepsets.studies.exercise.measured import Sections
from deepsets.studies.exercise.settings import StudySettings

SCHEMA_VERSION = 5  # of metrics.json; 4: one 7a criterion, 3: findings as sentences, 2: held-out


@dataclass(frozen=True)
class DataShown:
    shown_sets: int
    """Sets drawn in the data figure."""
    scored_sets: int
    """Sets every score is computed on: every distinct set (372), all of them seen in training."""


@dataclass(frozen=True)
class Timing:
    train_seconds: float
    """Training of every model."""
    symmetry_seconds: float
    """The sample-efficiency and learning-speed sections (their own training included)."""
    wall_seconds: float
    """The whole study up to writing metrics.json."""


@dataclass(frozen=True)
class RunInfo:
    """How the study ran: settings, seeds, machine, library versions, time."""

    settings: StudySettings
    seeds: tuple[int, ...]
    device: str
    threads: int
    workers: int
    environment: dict[str, str]
    models_trained: int
    data: DataShown
    timing: Timing
    cluster: ClusterInfo | None = None
    """The Dask cluster the models trained on (`--scheduler`); None: in this process."""


@dataclass(frozen=True)
class StudyResults(Sections):
    """Where a study wrote, how it ran, every section's numbers and its findings."""

    out: Path
    run: RunInfo

    @classmethod
    def of(cls, sections: Sections, out: Path, run: RunInfo) -> StudyResults:
        return cls(
            **{f.name: getattr(sections, f.name) for f in fields(Sections)}, out=out, run=run
        )

    @cached_property
    def findings(self) -> Findings:
        """The sentences the report and the console print, chosen from the numbers (not judged
        in a quick run)."""
        return judged(findings(self), self.run.settings.quick)

    def to_json(self) -> dict[str, Any]:
        """The content of metrics.json, as JSON types (tuples become lists)."""
        run = asdict(self.run)
        timing, cluster = run.pop("timing"), run.pop("cluster")
        d = self.training
        metrics = {
            "schema_version": SCHEMA_VERSION,
            **run,
            "training": asdict(d),
            "params": {"deepset": d.deepset.params, "mlp": d.mlp.params},
            "invariance": asdict(self.invariance),
            "mlp_sweep": asdict(self.mlp_sweep),
            "linear_phi": asdict(self.linear_phi),
            "sample_efficiency": asdict(self.sample_efficiency),
            "learning_speed": asdict(self.learning_speed),
            "extras": None if self.extras is None else asdict(self.extras),
            "findings": jsonable(self.findings),
            "timing": timing,
            "cluster": cluster,
        }
        as_json: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
        return as_json

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """metrics.json as a dict (computed once)."""
        return self.to_json()
