"""The files of a grading run: grades.csv, each submission's feedback.json, Gradescope's
results.json, all written into a new folder that then replaces OUT in one rename."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from deepsets.grade.grading import Graded
from deepsets.grade.rubric import Rubric
from deepsets.grade.settings import MARKER


def write_csv(path: Path, graded: Sequence[Graded], rubric: Rubric) -> None:
    """A row per submission: status, score, max_score, then one column of points per check."""
    ids = [i for i, p in rubric.points.items() if p > 0]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "score", "max_score", *ids])
        for g in graded:
            points = {c.id: c.points for c in g.checks}
            writer.writerow(
                [g.submission, g.status, f"{g.score:g}", f"{g.max_score:g}",
                 *(f"{points.get(i, 0):g}" for i in ids)]
            )  # fmt: skip


def gradescope(g: Graded) -> dict[str, object]:
    """Gradescope's results.json: hidden checks become visible once grades are published."""
    return {
        "score": g.score,
        "output": g.message or f"Graded: {g.score:g} of {g.max_score:g} points.",
        "tests": [
            {"name": f"{c.id}: {c.what}", "score": c.points, "max_score": c.max_points,
             "output": c.message, "visibility": "after_published" if c.hidden else "visible"}
            for c in g.checks
        ],
    }  # fmt: skip


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def replace(out: Path, fill: Callable[[Path], None]) -> None:
    """Write the run into a new folder beside OUT with `fill`, then put it in OUT's place.

    OUT is only ever empty, absent or an earlier run (settings.check_out); a failure while
    writing leaves OUT as it was.
    """
    out = out.resolve()
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(new)
        (new / MARKER).write_text("written by deepsets grade\n", encoding="utf-8")
        os.chmod(new, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / "run")
        os.rename(new, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
