"""The Set Transformer study (`deepsets run attention`): the benchmarks of Lee et al. 2019,
max regression (Table 1) and amortized clustering of mixtures of Gaussians (section 5.3).

settings -> train (the models, trained and tested) -> verdicts -> figures -> report, run by
`run.py`.
"""

from __future__ import annotations

from deepsets.lab.study import Study
from deepsets.studies.attention.run import print_summary, run_attention
from deepsets.studies.attention.settings import AttentionSettings, quick_settings, resolve

STUDY = Study(
    AttentionSettings,
    "the Set Transformer paper's benchmarks: max regression and amortized clustering, "
    "DeepSets against attention",
    quick_settings,
    resolve,
    run_attention,
    print_summary,
)
