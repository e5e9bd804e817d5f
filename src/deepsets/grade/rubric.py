"""The rubric: points per check id and the ids hidden from the students' feedback.

A teacher's rubric is a TOML file; ids it does not name keep their default points, 0 points
turns a check off, and an unknown id is refused:

    hidden = ["deepset.learns"]      # shown to the teacher only (Gradescope: after publishing)

    [points]
    "data.random" = 4
    "notebook.figures" = 0
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from deepsets.grade.checks import IDS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_POINTS = MappingProxyType({
    "data.shape": 2, "data.balanced": 2, "data.values": 3, "data.labels": 2, "data.random": 2,
    "deepset.invariant": 3, "deepset.sum_pooling": 2, "deepset.phi_nonlinear": 2,
    "deepset.output": 2, "deepset.learns": 3, "mlp.sequential": 2, "train.returns": 2,
    "train.adam": 1, "train.fresh_data": 2, "count_params.exact": 2, "notebook.figures": 1,
    "notebook.permutations": 1,
})  # fmt: skip


@dataclass(frozen=True)
class Rubric:
    """Points per check id (every id, in the checks' order) and the hidden ids."""

    points: MappingProxyType[str, float]
    hidden: frozenset[str] = frozenset()

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()))


def default_rubric() -> Rubric:
    return Rubric(DEFAULT_POINTS)


def load_rubric(path: str | Path | None) -> Rubric:
    """The rubric of a TOML file over the default one (the default if `path` is None)."""
    if path is None:
        return default_rubric()
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"--rubric {path}: not a readable TOML file ({e})") from e
    return rubric_from(table, f"--rubric {path}")


def rubric_from(table: dict[str, Any], where: str) -> Rubric:
    """Check a parsed rubric: only `points` and `hidden`, known ids, points >= 0."""
    extra = set(table) - {"points", "hidden"}
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)}; a rubric has [points] and hidden")
    given, hidden = table.get("points", {}), table.get("hidden", [])
    if not isinstance(given, dict) or not isinstance(hidden, list):
        raise ValueError(f"{where}: [points] must be a table and hidden a list of check ids")
    for name in [*given, *hidden]:
        if name not in IDS:
            raise ValueError(f"{where}: unknown check id {name!r}; the ids: {', '.join(IDS)}")
    for name, value in given.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}: points of {name!r} must be a number >= 0, got {value!r}")
    points = {name: float(given.get(name, DEFAULT_POINTS[name])) for name in IDS}
    return Rubric(MappingProxyType(points), frozenset(hidden))
