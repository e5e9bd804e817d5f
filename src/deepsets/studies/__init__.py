"""The studies, as peers: exercise/, digits/, theory/, popstats/, attention/, each built the same
way (lab.study).

STUDIES is the registry `deepsets run` reads: a new study is one folder exposing its `STUDY`
and one line here. The first entry is what `deepsets run` runs when no study is named.
"""

from __future__ import annotations

from typing import Any

from deepsets.lab.study import Study
from deepsets.studies import attention, digits, exercise, popstats, theory

STUDIES: dict[str, Study[Any, Any]] = {
    "exercise": exercise.STUDY,
    "theory": theory.STUDY,
    "digits": digits.STUDY,
    "popstats": popstats.STUDY,
    "attention": attention.STUDY,
}
DEFAULT_STUDY = "exercise"  # what `deepsets run` runs when no study is named
