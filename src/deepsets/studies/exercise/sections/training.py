"""Steps 1-5 of the exercise: the data, the DeepSet and the MLP trained over seeds, scored.

Shape letters: B sets, N objects, S seeds, T steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from deepsets.data import make_data
from deepsets.plots import Figure, plot_losses, plot_sets
from deepsets.studies.exercise.plan import Runs, Variant, exercise_deepset, exercise_mlp
from deepsets.studies.exercise.scores import Score, TestSet, score
from deepsets.studies.exercise.settings import StudySettings

SHOWN_SETS = 40  # sets drawn in the data figure (step 1)


@dataclass(frozen=True)
class TrainingResult:
    """Steps 2-5: each model's parameters, final loss and scores over all sets, over seeds."""

    deepset: Score
    mlp: Score


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[TrainingResult, dict[str, Figure]]:
    """Score both models; draw a batch of data and the loss curves."""
    deepset, mlp = trained[exercise_deepset(s)], trained[exercise_mlp(s)]
    result = TrainingResult(
        deepset=score(deepset, test, s.final_window), mlp=score(mlp, test, s.final_window)
    )
    X, y = make_data(SHOWN_SETS, generator=s.seed, device=test[0].device)  # (B, N, 1), (B, 1)
    hidden = tuple(s.mlp_hidden)
    losses = plot_losses(
        {
            f"DeepSet ({result.deepset.params} params)": deepset.losses,  # (S, T)
            f"MLP {hidden} {s.mlp_activation} ({result.mlp.params} params)": mlp.losses,
        }
    )
    return result, {"data": plot_sets(X, y), "losses": losses}
