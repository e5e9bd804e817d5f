"""The population-statistics study (`deepsets run popstats`): the DeepSets paper's Figure 1,
the DeepSet against a kernel method (SDM) as the number of training sets grows.

settings -> models -> train -> verdicts -> figures -> report, run by `run.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepsets.lab.study import Study
from deepsets.studies.popstats.settings import PopstatsSettings, quick_settings, resolve

if TYPE_CHECKING:
    from deepsets.studies.popstats.results import PopstatsResults


def run(settings: PopstatsSettings) -> PopstatsResults:
    """`run.run_popstats`, imported here so that `deepsets --help` does not load the study."""
    from deepsets.studies.popstats.run import run_popstats

    return run_popstats(settings)


def summary(results: PopstatsResults) -> None:
    """`run.print_summary`, imported on use."""
    from deepsets.studies.popstats.run import print_summary

    print_summary(results)


STUDY = Study(
    PopstatsSettings,
    "the DeepSets paper's population statistics (entropies, mutual information of Gaussians) "
    "against a kernel method",
    quick_settings,
    resolve,
    run,
    summary,
)
