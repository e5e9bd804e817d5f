"""What `run_theory` returns: every claim as measured, and how the study ran.

`TheoryResults.to_json()` is metrics.json; its schema is in the README section "The theory study"
(an interface others read: change both together).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deepsets.lab.run import Ran
from deepsets.studies.theory.common import Claim
from deepsets.studies.theory.settings import TheorySettings

SCHEMA_VERSION = 2  # of metrics.json (README: "The theory study"); 1: verdict, finding, threshold


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
