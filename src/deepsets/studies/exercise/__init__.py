"""The exercise study (`deepsets run`): every step of the exercise and the questions beyond it,
measured over seeds.

settings -> checks (fields and memory, before any work) -> plan (the variants and their
models) -> sections/ (one per question) -> measured -> verdicts/findings -> report, run by
`run.py`; `console.py` prints the summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepsets.lab.study import Study
from deepsets.studies.exercise.checks import check
from deepsets.studies.exercise.settings import StudySettings, quick_settings

if TYPE_CHECKING:
    from deepsets.studies.exercise.results import StudyResults


def run(settings: StudySettings) -> StudyResults:
    """`run.run_study`, imported here so that `deepsets --help` does not load the study."""
    from deepsets.studies.exercise.run import run_study

    return run_study(settings)


def summary(results: StudyResults) -> None:
    """`console.print_summary`, imported on use."""
    from deepsets.studies.exercise.console import print_summary

    print_summary(results)


STUDY = Study(
    StudySettings,
    "the exercise's DeepSet and MLPs over seeds, its questions answered by measurement",
    quick_settings,
    check,
    run,
    summary,
)
