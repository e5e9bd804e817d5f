"""Beyond the exercise, on models trained in the same run as the exercise's:

    set sizes       DeepSets trained on sets of 10 objects, tested on sets of 5 to 100
    affine pooling  which pooling still solves the task when phi is affine, phi(x) = a x + b
    learned phi     the learned phi drawn on [0, 1], and its values at the data's inputs
    latent width    the width L of phi's output (the latent space), L = 1, 2, 4, 8

Shape letters: B sets, N objects, S seeds, X points on [0, 1], Z test sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deepsets.data import make_data
from deepsets.engine.forked import fork_map
from deepsets.engine.settings import resolve_workers
from deepsets.lab.figures import over_seeds, seeds_by_variant
from deepsets.plots import Figure
from deepsets.studies.exercise.plan import (
    LATENTS,
    MIXED,
    TEST_SIZES,
    Runs,
    Variant,
    exercise_mlp,
    latent_variants,
    mixed_deepset,
    poolings,
)
from deepsets.studies.exercise.scores import Score, Summary, TestSet, accuracies, score
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


def measure_set_size(
    trained: Mapping[Variant, Runs], s: StudySettings, device: torch.device
) -> tuple[SetSizeResult, dict[str, Figure]]:
    """Test every pooling on fresh held-out sets of each size in TEST_SIZES."""
    tests = {
        n: make_data(s.test_size, n_objects=n, generator=20_011 + n + s.seed, device=device)
        for n in TEST_SIZES
    }
    lo, hi = MIXED
    p, mixed_runs = poolings(s), trained[mixed_deepset(s)]
    sum_, mean, max_, mixed = by_size(
        [
            ("sum pooling", trained[p.sum_pooling]),
            ("mean pooling", trained[p.mean_pooling]),
            ("max pooling", trained[p.max_pooling]),
            (f"sum pooling, trained on {lo}-{hi} objects", mixed_runs),
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
        abs_phi0_mixed=abs_phi0(mixed_runs),
        mlp_error=mlp_error(trained[exercise_mlp(s)], tests[MLP_TRIED][0]),
    )
    accuracy = {m.label: np.array(m.per_seed) for m in result.models}  # label -> (S, Z)
    labels = (
        "objects per test set",
        "accuracy on fresh sets",
        "Set-size generalisation (trained on 10 unless stated)",
    )
    return result, {"set_size": over_seeds(list(TEST_SIZES), accuracy, labels, True)}


@dataclass(frozen=True)
class AffinePooling:
    """One pooling of an affine phi: scores over seeds and each seed's learned slope a."""

    score: Score
    slope: tuple[float, ...]
    """(S,) a = phi(1) - phi(0) of each seed's phi."""


@dataclass(frozen=True)
class AffinePoolingResult:
    sum_pooling: AffinePooling
    mean_pooling: AffinePooling
    max_pooling: AffinePooling


@torch.no_grad()
def affine_pooling(runs: Runs, s: StudySettings, test: TestSet) -> AffinePooling:
    ends = torch.tensor([[0.0], [1.0]], device=test[0].device)  # (2, 1): x = 0 and x = 1
    slopes = tuple(float(m.phi(ends).diff(dim=0)[0, 0]) for m in runs.deepsets())
    return AffinePooling(score(runs, test, s.final_window), slopes)


def measure_affine_pooling(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[AffinePoolingResult, dict[str, Figure]]:
    result = AffinePoolingResult(
        *(affine_pooling(trained[v], s, test) for v in poolings(s, activation=None))
    )
    fig = seeds_by_variant(
        {
            "sum pooling": result.sum_pooling.score.accuracy.values,
            "mean pooling": result.mean_pooling.score.accuracy.values,
            "max pooling": result.max_pooling.score.accuracy.values,
        },
        "accuracy over all sets",
        "Affine phi: which pooling can still tell the classes apart?",
    )
    return result, {"linear_pooling": fig}


DATA_VALUES = (0.0, 1 / 5, 1 / 3)  # the only values an object of make_data takes


@dataclass(frozen=True)
class PhiAtInputs:
    """Each seed's phi at the data's three values."""

    phi_0: tuple[float, ...]
    phi_fifth: tuple[float, ...]
    """(S,) phi(1/5)."""
    phi_third: tuple[float, ...]
    """(S,) phi(1/3)."""
    max_is_phi0: tuple[bool, ...]
    """(S,) phi(0) >= phi(1/5), phi(1/3): max pooling then pools phi(0) for every set."""


@dataclass(frozen=True)
class LearnedPhiResult:
    sum_pooling: PhiAtInputs
    mean_pooling: PhiAtInputs
    max_pooling: PhiAtInputs


@torch.no_grad()
def at_inputs(runs: Runs, device: torch.device) -> PhiAtInputs:
    x = torch.tensor(DATA_VALUES, device=device)[:, None]  # (3, 1)
    v = np.stack([m.phi(x)[:, 0].cpu().numpy() for m in runs.deepsets()])  # (S, 3)
    blind = v[:, 0] >= v[:, 1:].max(axis=1)  # (S,)
    return PhiAtInputs(
        phi_0=tuple(v[:, 0].tolist()),
        phi_fifth=tuple(v[:, 1].tolist()),
        phi_third=tuple(v[:, 2].tolist()),
        max_is_phi0=tuple(blind.tolist()),
    )


@torch.no_grad()
def curves(runs: Runs, x: torch.Tensor) -> np.ndarray:
    """(S, X) each seed's phi at the points x (X,)."""
    return np.stack([m.phi(x[:, None])[:, 0].cpu().numpy() for m in runs.deepsets()])


def measure_learned_phi(
    trained: Mapping[Variant, Runs], s: StudySettings, device: torch.device
) -> tuple[LearnedPhiResult, dict[str, Figure]]:
    labels = ("sum pooling", "mean pooling", "max pooling")
    runs = {label: trained[v] for label, v in zip(labels, poolings(s), strict=True)}
    x = torch.linspace(0, 1, 101, device=device)  # (X,)
    fig = phi_curves(x.cpu().numpy(), {k: curves(r, x) for k, r in runs.items()})
    result = LearnedPhiResult(*(at_inputs(r, device) for r in runs.values()))
    return result, {"phi": fig}


@dataclass(frozen=True)
class LatentWidth:
    latent: int
    score: Score


@dataclass(frozen=True)
class LatentResult:
    widths: tuple[LatentWidth, ...]
    """One entry per L in LATENTS, in order."""

def measure_latent(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[LatentResult, dict[str, Figure]]:
    widths = tuple(
        LatentWidth(L, score(trained[v], test, s.final_window))
        for L, v in zip(LATENTS, latent_variants(s), strict=True)
    )
    fig = seeds_by_variant(
        {f"L = {w.latent}": w.score.final_loss.values for w in widths},
        "final training loss (BCE)",
        "Latent width of phi",
        log=True,
    )
    return LatentResult(widths), {"latent": fig}


@dataclass(frozen=True)
class ExtrasResult:
    """The numbers of the sections beyond the exercise."""

    set_size: SetSizeResult
    affine_pooling: AffinePoolingResult
    learned_phi: LearnedPhiResult
    latent: LatentResult


def measure(
    trained: Mapping[Variant, Runs], s: StudySettings, test: TestSet
) -> tuple[ExtrasResult, dict[str, Figure]]:
    """All extra sections: their results and figures."""
    device = test[0].device
    sizes, figs = measure_set_size(trained, s, device)
    pooling, more = measure_affine_pooling(trained, s, test)
    figs |= more
    phi, more = measure_learned_phi(trained, s, device)
    figs |= more
    widths, more = measure_latent(trained, s, test)
    figs |= more
    return ExtrasResult(sizes, pooling, phi, widths), figs


def phi_curves(x: np.ndarray, curves: Mapping[str, np.ndarray]) -> Figure:
    """The learned phi as a function on [0, 1]: for each name, (S, len(x)) curves over seeds.

    The three values the data takes (0, 1/5, 1/3) are marked.
    """
    fig = Figure(figsize=(5 * len(curves), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(curves)))
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        for s, curve in enumerate(np.atleast_2d(c)):
            ax.plot(x, curve, lw=1.2, label=f"seed {s}")
        for v, lab in ((0.0, "0"), (0.2, "1/5"), (1 / 3, "1/3")):
            ax.axvline(v, color="grey", ls=":", lw=1)
            ax.text(v, 1.0, lab, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
        ax.set_title(name, pad=14)
        ax.set_xlabel("object value x")
        ax.set_ylabel(r"$\phi(x)$")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig
