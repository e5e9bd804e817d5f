"""The digit-sum study (`deepsets run digits`): the DeepSets paper's Figure 2, reproduced.

settings -> models -> train (and evaluate) -> verdicts -> figures -> report, run by `run.py`.
"""

from __future__ import annotations

from deepsets.lab.study import Study
from deepsets.studies.digits.run import print_summary, run_digits
from deepsets.studies.digits.settings import DigitsSettings, quick_settings, resolve

STUDY = Study(
    DigitsSettings,
    "the DeepSets paper's sums of digits (text and images) against LSTM, GRU and a Set "
    "Transformer",
    quick_settings,
    resolve,
    run_digits,
    print_summary,
)
