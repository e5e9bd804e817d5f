"""The exercise study (`deepsets run`): every step of the exercise and the questions beyond it,
measured over seeds.

settings -> plan (the variants and their models; the check of fields and memory, before
any work) -> sections/ (one per question) -> verdicts/findings (results) -> report and console
summary, run by `run.py`.
"""

from __future__ import annotations

from deepsets.lab.study import Study
from deepsets.studies.exercise.plan import check
from deepsets.studies.exercise.run import print_summary, run_study
from deepsets.studies.exercise.settings import StudySettings, quick_settings

STUDY = Study(
    StudySettings,
    "the exercise's DeepSet and MLPs over seeds, its questions answered by measurement",
    quick_settings,
    check,
    run_study,
    print_summary,
)
