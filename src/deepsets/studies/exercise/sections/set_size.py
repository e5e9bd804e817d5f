"""Beyond the exercise: DeepSets trained on sets of 10 objects, tested on sets of 5 to 100.

Shape letters: B sets, N objects, S seeds, Z test sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deepsets.data import make_data
from deepsets.engine.forked import fork_map
from deepsets.engine.settings import resolve_workers
from deepsets.plots import Figure
from deepsets.studies.exercise import figures
from deepsets.studies.exercise.plan import MIXED as MIXED
from deepsets.studies.exercise.plan import TEST_SIZES as TEST_SIZES
from deepsets.studies.exercise.plan import Runs, SetSizeVariants, Variant
from deepsets.studies.exercise.scores import Summary, TestSet, accuracies
from deepsets.studies.exercise.settings import StudySettings
from deepsets.training import model_device, run_model

TRAINED_ON = 10  # objects per set in training (make_data's default)
MLP_TRIED = 20  # the set size fed to the MLP built for 10 objects


@dataclass(frozen=True)
class AccuracyBySize:
    """One model's held-out accuracy at each test size."""

    label: str
    mean: tuple[float, ...]
    """(Z,) mean over seeds."""
    per_seed: tuple[tuple[float, ...], ...]
    """(S, Z)."""


@dataclass(frozen=True)
class SetSizeResult:
    """Accuracy against set size per pooling; |phi(0)|, which sum pooling adds per object."""

    trained_on: int
    mixed_sizes: tuple[int, int]
    test_sizes: tuple[int, ...]
    sum_pooling: AccuracyBySize
    mean_pooling: AccuracyBySize
    max_pooling: AccuracyBySize
    sum_pooling_mixed: AccuracyBySize
    abs_phi0: Summary
    """|phi(0)| of each sum-pooling DeepSet trained on sets of 10."""
    abs_phi0_mixed: Summary
    """|phi(0)| of each sum-pooling DeepSet trained on mixed sizes."""
    mlp_error: str | None
    """torch's error when the MLP built for 10 objects gets sets of 20; None if it accepted them."""

    @property
    def models(self) -> tuple[AccuracyBySize, ...]:
        return (self.sum_pooling, self.mean_pooling, self.max_pooling, self.sum_pooling_mixed)


def by_size(
    named: Sequence[tuple[str, Runs]], tests: Mapping[int, TestSet]
) -> list[AccuracyBySize]:
    """Each labelled run's accuracy on the sets of every size in TEST_SIZES, the models
    scored side by side in the engine's worker processes (each score is one model's alone)."""
    jobs = [(m, n) for _, runs in named for m in runs.models for n in TEST_SIZES]
    scores = iter(
        fork_map(lambda job: accuracies([job[0]], tests[job[1]])[0], jobs, resolve_workers())
    )
    out = []
    for label, runs in named:
        acc = np.array([[next(scores) for _ in TEST_SIZES] for _ in runs.models])  # (S, Z)
        per_seed = tuple(map(tuple, acc.tolist()))
        out.append(AccuracyBySize(label, tuple(acc.mean(axis=0).tolist()), per_seed))
    return out


@torch.no_grad()
def abs_phi0(runs: Runs) -> Summary:
    """|phi(0)| of each seed's model."""
    zero = torch.zeros(1, 1, 1, device=model_device(runs.models[0]))  # (B, N, F)
    return Summary.of(float(m.phi(zero).abs().max()) for m in runs.deepsets())


def mlp_error(runs: Runs, X: torch.Tensor) -> str | None:
    """The first line of torch's error for the first seed's MLP on sets X (B, 20, 1)."""
    try:
        run_model(runs.models[0], X)
    except ValueError as e:
        return str(e.__cause__ or e).splitlines()[0][:100]
    return None


def measure(
    trained: Mapping[Variant, Runs], v: SetSizeVariants, s: StudySettings, device: torch.device
) -> tuple[SetSizeResult, dict[str, Figure]]:
    """Test every pooling on fresh held-out sets of each size in TEST_SIZES."""
    tests = {
        n: make_data(s.test_size, n_objects=n, generator=20_011 + n + s.seed, device=device)
        for n in TEST_SIZES
    }
    lo, hi = MIXED
    p = v.poolings
    sum_, mean, max_, mixed = by_size(
        [
            ("sum pooling", trained[p.sum_pooling]),
            ("mean pooling", trained[p.mean_pooling]),
            ("max pooling", trained[p.max_pooling]),
            (f"sum pooling, trained on {lo}-{hi} objects", trained[v.sum_pooling_mixed]),
        ],
        tests,
    )
    result = SetSizeResult(
        trained_on=TRAINED_ON,
        mixed_sizes=MIXED,
        test_sizes=TEST_SIZES,
        sum_pooling=sum_,
        mean_pooling=mean,
        max_pooling=max_,
        sum_pooling_mixed=mixed,
        abs_phi0=abs_phi0(trained[p.sum_pooling]),
        abs_phi0_mixed=abs_phi0(trained[v.sum_pooling_mixed]),
        mlp_error=mlp_error(trained[v.mlp], tests[MLP_TRIED][0]),
    )
    accuracy = {m.label: np.array(m.per_seed) for m in result.models}  # label -> (S, Z)
    labels = (
        "objects per test set",
        "accuracy on fresh sets",
        "Set-size generalisation (trained on 10 unless stated)",
    )
    return result, {"set_size": figures.over_seeds(list(TEST_SIZES), accuracy, labels, True)}
