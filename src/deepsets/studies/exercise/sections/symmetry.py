"""What the symmetry buys (section 8): in examples (8a, `measure_sample_efficiency`), accuracy
on arrangements never trained on, against M; in steps (8b, `measure_learning_speed`), steps to
a low loss and to 100% accuracy per seed, and the area under the mean loss curve.

8a: each model trains full-batch on M distinct arrangements per class, drawn without replacement
for each seed, and is scored (class-balanced) on every other set of `all_sets()`. Models: the
exercise's DeepSet and MLP, and the smallest MLP that matched the DeepSet in question 7a (the
largest MLP of the sweep if none matched). 8b reads the exercise models' own training: steps
to the loss threshold from their losses, the accuracy along training from snapshots of the same
run at a few checkpoints (`train_many(snapshots=...)`); the last checkpoint is the run's end.

Shape letters: K models, B sets, N objects, S seeds, Z values of M, T steps, C checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.lab.figures import over_seeds
from deepsets.plots import Figure
from deepsets.studies.exercise.plan import (
    Runs,
    Variant,
    checkpoints,
    exercise_deepset,
    exercise_mlp,
    mlp_variant,
)
from deepsets.studies.exercise.scores import Summary, TestSet, accuracies, balanced
from deepsets.studies.exercise.sections.sweep import SweepResult, SweepRow
from deepsets.studies.exercise.settings import StudySettings
from deepsets.training import count_params

M_VALUES = (1, 2, 5, 10, 20, 50, 100)  # arrangements per class in the training set
QUICK_M_VALUES = (1, 10, 100)
STEPS = 300  # full-batch Adam steps per model, also with --quick (100 left the DeepSet at ln 2)
# Full batches of at most 200 sets: at lr 1e-2 the DeepSet and the (20, 20) MLP fit every
# training set within STEPS (final training loss < 0.01, measured); at 1e-3 they do not.
LR = 1e-2
SPLIT_SEED = 30_011  # seed s draws its training arrangements from SPLIT_SEED + s


@dataclass(frozen=True)
class ModelCurve:
    """One model's accuracy on unseen arrangements at each M, over seeds."""

    name: str
    """The variant's name (weights/<name>-... in the main run)."""
    label: str
    """How the report names it."""
    role: str
    """Why it is here: the exercise's model, or 7a's answer."""
    params: int
    unseen_accuracy: tuple[Summary, ...]
    """(Z,) class-balanced accuracy on every arrangement not trained on, per M."""
    train_loss: tuple[Summary, ...]
    """(Z,) final full-batch training loss, per M: whether the model fitted its sets."""


@dataclass(frozen=True)
class SampleEfficiencyResult:
    per_class: tuple[int, ...]
    """(Z,) the values of M, arrangements per class in each training set."""
    unseen_per_class: tuple[tuple[int, int], ...]
    """(Z,) arrangements of class 0 and of class 1 left unseen at each M."""
    steps: int
    lr: float
    models: tuple[ModelCurve, ...]


def class_orders(y: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """Per class, the indices of its sets in y (B, 1) in a random order drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    orders = []
    for c in (0, 1):
        index = torch.nonzero(y[:, 0].cpu() == c)[:, 0]  # (B_c,)
        orders.append(index[torch.randperm(len(index), generator=g)].to(y.device))
    return orders


def split(orders: Sequence[torch.Tensor], M: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first M sets of each class's order (training) and all the others (unseen).

    Returns index tensors (2M,) and (B - 2M,); M must leave each class an unseen set.
    """
    smallest = min(len(o) for o in orders)
    if isinstance(M, bool) or not isinstance(M, int) or not 1 <= M < smallest:
        raise ValueError(f"M must be an integer in 1..{smallest - 1} (per class), got {M!r}")
    train = torch.cat([o[:M] for o in orders])  # (2M,)
    unseen = torch.cat([o[M:] for o in orders])  # (B - 2M,)
    return train, unseen


def third_model(sweep: SweepResult) -> tuple[SweepRow, str]:
    """The smallest MLP that matched in 7a, or the largest of the sweep if none did."""
    if sweep.smallest_match is not None:
        row = next(r for r in sweep.rows if r.name == sweep.smallest_match.name)
        return row, "the smallest MLP that matched in 7a"
    return max(sweep.rows, key=lambda r: r.score.params), "the largest MLP of 7a; none matched"


def variants(s: StudySettings, sweep: SweepResult) -> list[tuple[Variant, str, str]]:
    """(variant, label, role) of each model, without repeating an architecture."""
    row, role = third_model(sweep)
    chosen = [
        (exercise_deepset(s), "DeepSet", "the exercise's"),
        (exercise_mlp(s), f"MLP {tuple(s.mlp_hidden)} {s.mlp_activation}", "the exercise's"),
        (mlp_variant(row.hidden, row.activation), row.name, role),
    ]
    unique: list[tuple[Variant, str, str]] = []
    for v, label, why in chosen:  # the (20, 20) MLP may also be 7a's answer: train it once
        if all((v.constructor, v.options) != (u.constructor, u.options) for u, _, _ in unique):
            unique.append((v, label, why))
    return unique


def measure_sample_efficiency(
    s: StudySettings, seeds: Sequence[int], sweep: SweepResult, sets: TestSet
) -> tuple[SampleEfficiencyResult, dict[str, Figure]]:
    """Train every (model, M, seed), a few `train_on` calls in all; score each on its unseen
    arrangements."""
    Ms, steps = (QUICK_M_VALUES if s.quick else M_VALUES), STEPS
    X, y = sets  # (B, N, 1), (B, 1): every distinct set
    chosen = variants(s, sweep)
    orders = {seed: class_orders(y, SPLIT_SEED + seed) for seed in seeds}
    acc = np.empty((len(chosen), len(Ms), len(seeds)))  # (models, Z, S)
    final = np.empty_like(acc)
    for group in call_groups(Ms):
        runs = [(i, Ms.index(M), k) for i in range(len(chosen)) for M in group
                for k in range(len(seeds))]  # fmt: skip
        models = [chosen[i][0].build(seeds[k], X.device) for i, _, k in runs]
        train = [split(orders[seeds[k]], Ms[z]) for _, z, k in runs]
        sets = training_sets(X, y, [t for t, _ in train])
        _, losses = train_on(models, sets, steps, lr=LR, engine=Engine(threads=s.threads))
        for (i, z, k), model, (_, u), loss in zip(runs, models, train, losses, strict=True):
            acc[i, z, k] = balanced(model, X[u], y[u])["accuracy"]
            final[i, z, k] = loss[-1]
    params = [count_params(v.build(0, X.device)) for v, _, _ in chosen]
    curves = tuple(
        ModelCurve(v.name, label, role, params[i], tuple(Summary.of(a) for a in acc[i]),
                   tuple(Summary.of(f) for f in final[i]))
        for i, (v, label, role) in enumerate(chosen)
    )  # fmt: skip
    left = tuple((int((y == 0).sum()) - M, int((y == 1).sum()) - M) for M in Ms)
    result = SampleEfficiencyResult(tuple(Ms), left, steps, LR, curves)
    labels = (
        "training arrangements per class, M",
        "accuracy on unseen arrangements",
        "Generalisation to unseen arrangements (band: min-max over seeds)",
    )
    by_model = {c.label: acc[i].T for i, c in enumerate(curves)}  # label -> (S, Z)
    fig = over_seeds(list(Ms), by_model, labels, chance=True)
    return result, {"sample_efficiency": fig}


SHARED_UP_TO = 20  # M <= 20 share one train_on call (B = 40), larger M another (B = 200)


def call_groups(Ms: Sequence[int]) -> list[tuple[int, ...]]:
    """The values of M trained in one `train_on` call each: small and large M apart, so that
    M = 1 is not repeated up to 200 sets (2.2 s in two calls against 3.1 s in one, measured)."""
    small = tuple(M for M in Ms if M <= SHARED_UP_TO)
    large = tuple(M for M in Ms if M > SHARED_UP_TO)
    return [g for g in (small, large) if g]


def training_sets(
    X: torch.Tensor, y: torch.Tensor, train: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack every model's training sets into one full batch of B = the largest 2M sets.

    Each smaller set is repeated to that size: a set of 2M sets repeated r times has the same
    mean loss and gradient, so one `train_on` call trains several M together (see call_groups).
    Returns X (K, B, N, 1) and y (K, B, 1).
    """
    B = max(len(t) for t in train)
    if any(B % len(t) for t in train):
        raise ValueError(f"every training set size must divide the largest ({B}) to share a batch")
    index = torch.stack([t.repeat(B // len(t)) for t in train])  # (K, B)
    return X[index], y[index]


LOSS_THRESHOLD = 0.01  # "learned": the running training loss stays below this
WINDOW = 100  # steps in the running mean of the training loss (fewer if the run is shorter)


@dataclass(frozen=True)
class Speed:
    """One model's learning speed, per seed (None: not reached within the run)."""

    steps_to_loss: tuple[int | None, ...]
    """(S,) the step from which the running loss stays below the threshold to the end."""
    accuracy: tuple[tuple[float, ...], ...]
    """(C, S) class-balanced accuracy over all sets at each checkpoint."""
    steps_to_all_correct: tuple[int | None, ...]
    """(S,) the first checkpoint at which every set is classified correctly."""
    loss_area: float
    """The area under the mean training loss curve over seeds: the sum over steps of the mean
    loss (loss x steps; a model that learns sooner leaves less)."""


@dataclass(frozen=True)
class LearningSpeedResult:
    loss_threshold: float
    window: int
    checkpoints: tuple[int, ...]
    """(C,) steps at which accuracy is measured; the last is the main run's end."""
    deepset: Speed
    mlp: Speed


def steps_below(losses: np.ndarray, threshold: float, window: int) -> int | None:
    """The first step t (1-based) such that the mean loss of every `window` consecutive steps
    ending at t or later is below `threshold`; None if the last window's is not.

    losses: (T,) per-step training loss, T >= window.
    """
    running = np.convolve(losses, np.ones(window) / window, mode="valid")  # (T - window + 1,)
    above = np.flatnonzero(running >= threshold)  # window i ends at step i + window
    if above.size == 0:
        return window
    if above[-1] == running.size - 1:
        return None
    return int(above[-1]) + 1 + window


def first_all_correct(accuracy: np.ndarray, at: Sequence[int]) -> list[int | None]:
    """(S,) per seed, the first of the checkpoints `at` whose accuracy (C, S) is 1."""
    return [
        next((c for c, a in zip(at, column, strict=True) if a == 1.0), None)
        for column in accuracy.T
    ]


def measure_learning_speed(
    trained: Mapping[Variant, Runs], s: StudySettings, sets: TestSet
) -> tuple[LearningSpeedResult, dict[str, Figure]]:
    """Steps to the loss threshold and accuracy at each checkpoint, from the main run."""
    main = [trained[exercise_deepset(s)], trained[exercise_mlp(s)]]
    at, window = checkpoints(s.steps), min(WINDOW, s.steps)
    by_checkpoint = [[list(r.snapshots[c]) for r in main] for c in at[:-1]]
    by_checkpoint.append([list(r.models) for r in main])
    speeds = []
    for i, runs in enumerate(main):
        acc = np.array([accuracies(models[i], sets) for models in by_checkpoint])  # (C, S)
        speeds.append(
            Speed(
                steps_to_loss=tuple(steps_below(r, LOSS_THRESHOLD, window) for r in runs.losses),
                accuracy=tuple(tuple(row) for row in acc.tolist()),
                steps_to_all_correct=tuple(first_all_correct(acc, at)),
                loss_area=float(runs.losses.mean(axis=0).sum()),  # (S, T) -> (T,) -> area
            )
        )
    result = LearningSpeedResult(LOSS_THRESHOLD, window, at, *speeds)
    curves = {"DeepSet": np.array(speeds[0].accuracy).T, "MLP": np.array(speeds[1].accuracy).T}
    labels = (
        "training steps",
        "accuracy over all sets",
        "Accuracy along training (band: min-max over seeds)",
    )
    return result, {"speed": over_seeds(list(at), curves, labels, chance=False)}
