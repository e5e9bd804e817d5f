"""The package's measured answers to the exercise's two written questions (Step 7), read from
a recorded run of the exercise study, shown beside each student's own answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import deepsets

QUESTIONS = (
    ("mlp_sweep", "How many parameters does an MLP need to match the DeepSet's performance?"),
    ("linear_phi", "What happens without the nonlinearity in phi, and why?"),
)


@dataclass(frozen=True)
class Measured:
    """The study's finding for each question, and where it was read."""

    findings: tuple[tuple[str, str], ...]
    """(question, the measured finding's sentence), in QUESTIONS' order."""
    source: str


def recorded() -> Path | None:
    """The repository's docs/results.json when deepsets runs from its source tree."""
    path = Path(deepsets.__file__).resolve().parents[2] / "docs" / "results.json"
    return path if path.is_file() else None


def measured(path: str | Path | None) -> Measured | None:
    """The findings of a metrics.json of `deepsets run` (or of docs/results.json); None if no
    path is given and the repository's record is absent or holds no findings."""
    if path is None:
        default = recorded()
        try:
            return measured(default) if default else None
        except ValueError:
            return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"--answers {path}: not a readable JSON file ({e})") from e
    found = data.get("findings") or data.get("study", {}).get("findings")
    if not isinstance(found, dict) or not all(key in found for key, _ in QUESTIONS):
        raise ValueError(f"--answers {path}: holds no findings of the exercise study")
    return Measured(tuple((q, str(found[key]["sentence"])) for key, q in QUESTIONS), str(path))
