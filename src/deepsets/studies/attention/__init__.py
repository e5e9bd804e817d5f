"""The Set Transformer study (`deepsets run attention`): the benchmarks of Lee et al. 2019,
max regression (Table 1) and amortized clustering of mixtures of Gaussians (section 5.3).

settings -> models -> train -> evaluate -> verdicts -> figures -> report, run by `run.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepsets.lab.study import Study
from deepsets.studies.attention.settings import AttentionSettings, quick_settings, resolve

if TYPE_CHECKING:
    from deepsets.studies.attention.results import AttentionResults


def run(settings: AttentionSettings) -> AttentionResults:
    """`run.run_attention`, imported here so that `deepsets --help` does not load the study."""
    from deepsets.studies.attention.run import run_attention

    return run_attention(settings)


def summary(results: AttentionResults) -> None:
    """`run.print_summary`, imported on use."""
    from deepsets.studies.attention.run import print_summary

    print_summary(results)


STUDY = Study(
    AttentionSettings,
    "the Set Transformer paper's benchmarks: max regression and amortized clustering, "
    "DeepSets against attention",
    quick_settings,
    resolve,
    run,
    summary,
)
