"""The time `deepsets grade` takes for a class of 30 notebooks (issue 32: at most 15 minutes
on a 2-core machine).

    python benchmarks/grade_class.py            # about 10 minutes on a 2-core CPU
    python benchmarks/grade_class.py --size 4   # a smoke test

Each notebook is the tests' reference solution (tests/grade_class/reference.py) as a student
hands it in: its cells train the DeepSet and the MLP for the exercise's 4000 steps each when the
grader runs them, before the grader's own measurements (the student's train, 4000 steps by
default as in the exercise, and the package's 4000-step training of its DeepSet). Prints the
wall time, the slowest submission and the scores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from grade_submissions import REFERENCE, notebook  # noqa: E402

from deepsets.grade.command import grade  # noqa: E402
from deepsets.grade.settings import GradeSettings  # noqa: E402

# the cell a student runs: both models trained for the exercise's 4000 steps (in JSON)
TRAINING = "train(DeepSet(), steps=4000)\\nmlp, mlp_losses = train(make_mlp(), steps=4000)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=30, help="notebooks in the class")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        # the exercise's train: 4000 steps by default (the tests' reference takes 200)
        source = REFERENCE.replace("def train(model, steps=200):", "def train(model, steps=4000):")
        assert source != REFERENCE
        nb = json.dumps(notebook(source, "(answers)"))
        nb = nb.replace("train(DeepSet(), steps=100)", TRAINING)
        for i in range(args.size):
            (folder / f"student{i:02d}.ipynb").write_text(nb, encoding="utf-8")
        start, cpu = time.perf_counter(), children_cpu()
        done = grade(GradeSettings(submissions=(str(folder),), out=str(Path(tmp) / "out")))
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    slowest = max(g.seconds for g in done.graded)
    scores = sorted({f"{g.score:g}/{g.max_score:g} ({g.status})" for g in done.graded})
    cores = len(os.sched_getaffinity(0))
    print(f"{args.size} notebooks graded in {wall:.0f} s ({wall / 60:.1f} min, load average "
          f"{os.getloadavg()[0]:.1f}); their processes used {cpu:.0f} s of CPU "
          f"({cpu / cores:.0f} s "
          f"over {cores} cores); the slowest submission took {slowest:.0f} s; scores: "
          f"{', '.join(scores)}")  # fmt: skip


def children_cpu() -> float:
    """CPU seconds (user + system) of the ended child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
