"""A submission's run judged: each check's verdict and points under the rubric."""

from __future__ import annotations

from dataclasses import dataclass

from deepsets.grade.checks import CHECKS, Check, Verdict
from deepsets.grade.rubric import Rubric
from deepsets.grade.sandbox import Run
from deepsets.grade.submissions import Submission, where


@dataclass(frozen=True)
class CheckResult:
    """One check of one submission."""

    id: str
    what: str
    points: float
    max_points: float
    passed: bool
    message: str
    hidden: bool


@dataclass(frozen=True)
class Graded:
    """One submission graded."""

    submission: str
    """Its unique name in the class (also its folder in OUT)."""
    path: str
    status: str
    """graded, timeout, memory or error."""
    message: str
    """Why, for a status other than graded."""
    score: float
    max_score: float
    checks: tuple[CheckResult, ...]
    answers: str
    """What it wrote for Step 7, for a person to grade."""
    seconds: float
    network_off: bool
    log: str


def verdict(check: Check, submission: Submission, run: Run) -> Verdict:
    """The verdict of one check: judged from its probe's values, or why there are none."""
    if not run.raw and run.status != "graded":
        return Verdict(False, f"not measured: {run.message}")
    if check.probe is None:
        return check.judge({}, submission)
    measured = run.raw.get(check.probe)
    if measured is None:
        return Verdict(False, f"not measured: {run.message or 'the process ended first'}")
    if "failed" in measured:
        failed = measured["failed"]
        at = f" ({where(submission, failed['line'])})" if failed.get("line") else ""
        if failed.get("kind") == "memory":
            return Verdict(False, f"it ran out of memory while this was measured{at}")
        return Verdict(False, f"could not be measured: {failed.get('message')}{at}")
    try:
        return check.judge(measured["raw"], submission)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        return Verdict(False, f"the values its process returned could not be judged ({e!r})")


def judge(submission: Submission, run: Run, rubric: Rubric) -> Graded:
    """Every check with points in `rubric`, judged; the score is the sum of the passed ones."""
    results = []
    for check in CHECKS:
        points = rubric.points[check.id]
        if points == 0:
            continue
        v = verdict(check, submission, run)
        results.append(
            CheckResult(check.id, check.what, points if v.passed else 0.0, points, v.passed,
                        v.message, check.id in rubric.hidden)
        )  # fmt: skip
    return Graded(
        submission=submission.name, path=str(submission.path), status=run.status,
        message=run.message, score=sum(r.points for r in results),
        max_score=sum(r.max_points for r in results), checks=tuple(results),
        answers=submission.answers, seconds=run.seconds, network_off=run.network_off,
        log=run.log,
    )  # fmt: skip
