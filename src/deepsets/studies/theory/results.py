"""What `run_theory` returns: every claim as measured, and how the study ran.

`TheoryResults.to_json()` is metrics.json; its schema is in the README section "The theory study"
(an interface others read: change both together).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deepsets.cluster import ClusterInfo
from deepsets.studies.theory.common import Claim
from deepsets.studies.theory.settings import TheorySettings

SCHEMA_VERSION = 2  # of metrics.json (README: "The theory study"); 1: verdict, finding, threshold


@dataclass(frozen=True)
class TheoryResults:
    """Where the study wrote, how it ran, and every claim as measured."""

    out: Path
    settings: TheorySettings
    claims: tuple[Claim, ...]
    seeds: tuple[int, ...]
    device: str
    threads: int
    workers: int
    environment: dict[str, str]
    wall_seconds: float
    cluster: ClusterInfo | None = None
    """The Dask cluster the models trained on (`--scheduler`); None: in this process."""

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
            "settings": asdict(self.settings),
            "seeds": list(self.seeds),
            "device": self.device,
            "threads": self.threads,
            "workers": self.workers,
            "versions": self.environment,
            "wall_seconds": self.wall_seconds,
            "cluster": None if self.cluster is None else asdict(self.cluster),
            "claims": claims,
        }
        out: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
        return out
