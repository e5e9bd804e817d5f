"""The settings of `deepsets grade SUBMISSION... --out DIR` and their checks, made before any
submission runs: a missing path or an output folder holding someone else's files costs a second."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

# A reference notebook (its cells train the DeepSet and the MLP for 4000 steps, then come the
# grader's two 4000-step trainings) uses 35 s of CPU; in a class of 30 on this 2-core machine,
# under a load average of 13, the slowest took 171 s (benchmarks/grade_class.py). 600 s leaves
# room for a slower student loop on a busy machine.
DEFAULT_TIMEOUT = 600.0
# torch and a 4000-step training peak at 0.7 GB of address space (VmPeak) in one process
DEFAULT_MEMORY_MB = 3000

MARKER = ".deepsets-grade"  # the file that marks a folder as written by `deepsets grade`


@dataclass(frozen=True)
class GradeSettings:
    """Grade solutions of the course exercise (.py files, .ipynb notebooks, or folders of them).

    Each submission runs on a copy, in its own process with a time and memory limit; the checks
    judge the values it returns. Writes OUT/grades.csv, OUT/index.html and, per submission,
    OUT/NAME/feedback.json and feedback.html (or Gradescope's results.json with --gradescope).
    """

    submissions: Annotated[
        tuple[str, ...], tyro.conf.Positional, tyro.conf.arg(metavar="SUBMISSION")
    ]
    """The .py and .ipynb files to grade, or folders holding them (searched recursively)."""
    out: str
    """The folder to write the grades into; it must be new, empty, or an earlier grading run."""
    rubric: str | None = None
    """A TOML file: points per check id (`[points]`) and the ids hidden from students (`hidden`)."""
    seed: int = 0
    """The seed of every random draw of the checks: the same seed gives the same grades."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds a submission may run (loading it, then every measurement) before it is stopped."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Address space a submission's process may use, in MB."""
    jobs: int | None = None
    """Submissions graded at once; default: the cores this process may use."""
    steps: int = 4000
    """Training steps of the grader's own training of the student's DeepSet (deepset.learns)."""
    answers: str | None = None
    """The measured answers shown beside the students' written ones: a metrics.json of
`deepsets run`; default: the repository's docs/results.json, if present."""
    gradescope: bool = False
    """Gradescope's autograder mode: one submission, OUT/results.json in Gradescope's format."""
    overwrite: bool = False
    """Replace an earlier grading run in OUT."""


def check_settings(settings: GradeSettings) -> None:
    """Every flag and path checked before any work; a ValueError naming it."""
    if not settings.submissions:
        raise ValueError("no SUBMISSION given: name .py files, .ipynb notebooks or folders")
    for name, value in (("--timeout", settings.timeout), ("--memory-mb", settings.memory_mb)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if settings.jobs is not None and settings.jobs < 1:
        raise ValueError(f"--jobs must be a positive integer, got {settings.jobs}")
    if settings.steps < 1:
        raise ValueError(f"--steps must be a positive integer, got {settings.steps}")
    for name, path in (("--rubric", settings.rubric), ("--answers", settings.answers)):
        if path is not None and not (Path(path).is_file() and os.access(path, os.R_OK)):
            raise ValueError(f"{name} {path}: not a readable file")
    check_out(Path(settings.out), settings.overwrite)
    out = Path(settings.out).resolve()
    for given in settings.submissions:
        folder = Path(given).resolve()
        if folder.is_dir() and (out == folder or folder in out.parents):
            raise ValueError(f"--out {settings.out} lies inside the submission folder {given}")


def check_out(out: Path, overwrite: bool) -> None:
    """OUT new, empty, or an earlier grading run (replaced only with --overwrite)."""
    if not out.exists():
        if not out.parent.is_dir():
            raise ValueError(f"--out {out}: its parent folder {out.parent} does not exist")
        return
    if not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / MARKER).is_file():
        raise ValueError(
            f"--out {out} holds files that are not a grading run's; choose a new or empty folder"
        )
    if not overwrite:
        raise ValueError(f"--out {out} holds an earlier grading run; --overwrite replaces it")
