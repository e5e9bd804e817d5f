"""`deepsets grade SUBMISSION... --out DIR`: `grade(settings)` grades a class and writes its
files; `main(args)` parses the flags (tyro, from GradeSettings) and returns the exit status."""

from __future__ import annotations

import logging
import os
import queue
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import tyro

from deepsets.grade.answers import measured
from deepsets.grade.grading import Graded, judge
from deepsets.grade.outputs import gradescope, replace, write_csv, write_json
from deepsets.grade.pages import write_pages
from deepsets.grade.rubric import Rubric, load_rubric
from deepsets.grade.sandbox import STOP, Limits, run, sandbox_uids
from deepsets.grade.settings import GradeSettings, check_settings
from deepsets.grade.submissions import Submission, find, names, read

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassGraded:
    """A grading run: every submission graded, where it was written, how long it took."""

    graded: tuple[Graded, ...]
    out: Path
    seconds: float


def jobs(settings: GradeSettings) -> int:
    """Submissions graded at once: --jobs, else the cores this process may use."""
    return settings.jobs or len(os.sched_getaffinity(0))


def grade_all(
    submissions: Sequence[Submission], settings: GradeSettings, rubric: Rubric
) -> list[Graded]:
    """Run and judge every submission, `jobs` at a time, each slot with its own sandbox user."""
    limits = Limits(settings.timeout, settings.memory_mb * 2**20, settings.seed, settings.steps)
    slots = min(jobs(settings), len(submissions))
    free: queue.Queue[int | None] = queue.Queue()
    for uid in sandbox_uids(slots):
        free.put(uid)

    def one(submission: Submission) -> Graded:
        uid = free.get()
        try:
            g = judge(submission, run(submission, limits, uid), rubric)
        finally:
            free.put(uid)
        log.info("%s: %g of %g (%s, %.0f s)", g.submission, g.score, g.max_score, g.status,
                 g.seconds)  # fmt: skip
        return g

    STOP.clear()
    pool = ThreadPoolExecutor(max_workers=slots)
    try:
        return list(pool.map(one, submissions))
    except BaseException:  # Ctrl-C: the running submissions are killed, the others not started
        STOP.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def grade(settings: GradeSettings) -> ClassGraded:
    """Check everything, grade the class, write OUT; a ValueError naming what is wrong."""
    start = time.perf_counter()
    check_settings(settings)
    rubric = load_rubric(settings.rubric)
    answers = measured(settings.answers)
    paths = find(settings.submissions)
    if settings.gradescope and len(paths) != 1:
        raise ValueError(f"--gradescope grades one submission; found {len(paths)} in "
                         f"{', '.join(settings.submissions)}")  # fmt: skip
    submissions = [read(p, n) for p, n in zip(paths, names(paths), strict=True)]
    graded = grade_all(submissions, settings, rubric)

    def fill(folder: Path) -> None:
        if settings.gradescope:
            write_json(folder / "results.json", gradescope(graded[0]))
            return
        write_csv(folder / "grades.csv", graded, rubric)
        for g in graded:
            (folder / g.submission).mkdir()
            write_json(folder / g.submission / "feedback.json", asdict(g))
        write_pages(folder, graded, rubric, answers, settings.seed)

    replace(Path(settings.out), fill)
    return ClassGraded(tuple(graded), Path(settings.out), time.perf_counter() - start)


def main(args: Sequence[str], prog: str = "deepsets grade") -> int:
    """Parse, grade, summarise; 0 once graded (whatever the scores), 2 for a usage error."""
    try:
        settings = tyro.cli(
            GradeSettings, args=list(args), prog=prog, config=(tyro.conf.DisallowNone,)
        )  # DisallowNone: `--rubric STR`, not `{None}|STR` (None is the default, not a value)
    except SystemExit as e:  # tyro has printed the help (status 0) or the usage error (2)
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        done = grade(settings)
    except ValueError as e:  # SubmissionError too: each names its path
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {settings.out} was left as it was", file=sys.stderr)
        return 130
    scores = [g.score for g in done.graded]
    top = done.graded[0].max_score
    written = "results.json" if settings.gradescope else "grades.csv and index.html"
    print(
        f"Graded {len(scores)} submissions in {done.seconds:.0f} s: mean score "
        f"{sum(scores) / len(scores):.1f} of {top:g}; wrote {written} in {done.out}"
    )
    return 0
