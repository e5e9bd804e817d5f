"""The digit-sum study (`deepsets run digits`): the DeepSets paper's Figure 2, reproduced.

settings -> models -> train -> evaluate -> verdicts -> figures -> report, run by `run.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepsets.lab.study import Study
from deepsets.studies.digits.settings import DigitsSettings, quick_settings, resolve

if TYPE_CHECKING:
    from deepsets.studies.digits.results import DigitsResults


def run(settings: DigitsSettings) -> DigitsResults:
    """`run.run_digits`, imported here so that `deepsets --help` does not load the study."""
    from deepsets.studies.digits.run import run_digits

    return run_digits(settings)


def summary(results: DigitsResults) -> None:
    """`run.print_summary`, imported on use."""
    from deepsets.studies.digits.run import print_summary

    print_summary(results)


STUDY = Study(
    DigitsSettings,
    "the DeepSets paper's sums of digits (text and images) against LSTM, GRU and a Set "
    "Transformer",
    quick_settings,
    resolve,
    run,
    summary,
)
