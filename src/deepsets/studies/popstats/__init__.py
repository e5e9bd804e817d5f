"""The population-statistics study (`deepsets run popstats`): the DeepSets paper's Figure 1,
the DeepSet against a kernel method (SDM) as the number of training sets grows.

settings -> models -> run (train, test) -> verdicts -> figures -> report.
"""

from __future__ import annotations

from deepsets.lab.study import Study
from deepsets.studies.popstats.run import print_summary, run_popstats
from deepsets.studies.popstats.settings import PopstatsSettings, quick_settings, resolve

STUDY = Study(
    PopstatsSettings,
    "the DeepSets paper's population statistics (entropies, mutual information of Gaussians) "
    "against a kernel method",
    quick_settings,
    resolve,
    run_popstats,
    print_summary,
)
