"""`deepsets run theory`: five claims of the theory of set functions, each measured over seeds.

settings.py (what to run) -> claims/*.py (one module per claim: train with the engine, measure,
judge) -> verdicts.py (the thresholds) -> run.py (all claims, the outputs) -> report.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepsets.lab.study import Study
from deepsets.studies.theory.settings import TheorySettings, check, quick_settings

if TYPE_CHECKING:
    from deepsets.studies.theory.results import TheoryResults


def run(settings: TheorySettings) -> TheoryResults:
    """`run.run_theory`, imported here so that `deepsets --help` does not load the study."""
    from deepsets.studies.theory.run import run_theory

    return run_theory(settings)


def summary(results: TheoryResults) -> None:
    """`run.print_summary`, imported on use."""
    from deepsets.studies.theory.run import print_summary

    print_summary(results)


STUDY = Study(
    TheorySettings,
    "five claims of the theory of set functions, each measured over seeds with a verdict",
    quick_settings,
    check,
    run,
    summary,
)
