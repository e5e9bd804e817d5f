"""`deepsets run theory`: five claims of the theory of set functions, each measured over seeds.

settings.py (what to run) -> claims/*.py (one module per claim: train with the engine, measure,
judge) -> verdicts.py (the thresholds) -> run.py (all claims, the outputs, the report).
"""

from __future__ import annotations

from deepsets.lab.study import Study
from deepsets.studies.theory.run import print_summary, run_theory
from deepsets.studies.theory.settings import TheorySettings, check, quick_settings

STUDY = Study(
    TheorySettings,
    "five claims of the theory of set functions, each measured over seeds with a verdict",
    quick_settings,
    check,
    run_theory,
    print_summary,
)
