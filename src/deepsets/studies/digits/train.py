"""Training the models of one task over seeds, through the package's engine (`train_on`), and
`evaluate`: accuracy on sets of each test length (the fraction whose rounded prediction is the
sum), each model's accuracy on single objects, and the image task's supervised ceiling.

Every run trains on one shared training set (drawn from the base seed), so runs differ in their
initial weights and the order of their batches; the models of run s draw the same batches
(generator seed + s). Training has two phases, `steps` at `lr` then `fine_steps` at `fine_lr`
(a fresh Adam; the engine keeps the learning rate fixed within a call): sums of up to 100 digits
need each digit's value to about 1/200. The image DeepSet has its own schedule
(`image_deepset_*`) and trains on images shifted once by up to `max_shift` pixels
(`shift_images`, generator seed + TRAIN_OFFSET + 1); the other image models on the images as
they are, their better choice at their schedule (measured: docs/studies/digits.md). The models
of one schedule train in one engine call per phase.

Shape letters: S runs (seeds), L test lengths, B sets, M single objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.engine.forked import fork_map
from deepsets.lab.run import train_phases
from deepsets.lab.settings import workers_of
from deepsets.studies.digits.ceiling import (
    Ceiling,
    Classifier,
    describe,
    exact_sum_accuracy,
    fit_classifier,
    model_per_image_accuracy,
    per_image_accuracy,
)
from deepsets.studies.digits.models import build
from deepsets.studies.digits.settings import MODELS, DigitsSettings
from deepsets.studies.digits.tasks import DIGITS, digit_sum, image_digit_sum, shift_images
from deepsets.training import predict

TRAIN_OFFSET = 500_000  # the training sets: generator seed + TRAIN_OFFSET (their shifts: + 1)
FINE_OFFSET = 700_000  # the second phase's batches: generator seed + s + FINE_OFFSET
TEST_OFFSET = 900_000  # the test sets of length n: generator seed + TEST_OFFSET + n


@dataclass(frozen=True)
class Schedule:
    """Adam steps and learning rates of the two phases of one model's training."""

    steps: int
    lr: float
    fine_steps: int
    fine_lr: float


@dataclass(frozen=True)
class Trained:
    """The trained models of one task: by model name, one per run (in seed order)."""

    task: str
    models: dict[str, list[nn.Module]]
    losses: dict[str, np.ndarray]
    """Mean absolute error of every step, (S, steps + fine_steps) of the model's schedule."""
    schedules: dict[str, Schedule]
    seconds: float


def schedule(model: str, task: str, s: DigitsSettings) -> Schedule:
    """The image DeepSet's own schedule, or the one every other model shares."""
    if (model, task) == ("deepset", "image"):
        return Schedule(
            s.image_deepset_steps, s.image_deepset_lr, s.image_deepset_fine_steps,
            s.image_deepset_fine_lr,
        )  # fmt: skip
    return Schedule(s.steps, s.lr, s.fine_steps, s.fine_lr)


def task_sets(
    task: str, n_sets: int, sizes: tuple[int, int], split: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X, mask, y of `task` ("text" or "image"): see `deepsets.studies.digits.tasks`."""
    if task == "text":
        return digit_sum(n_sets, sizes, generator=seed)
    return image_digit_sum(n_sets, sizes, split=split, generator=seed)


def shifted(models: list[str], task: str) -> bool:
    """Whether these models train on shifted images: the image DeepSet does."""
    return task == "image" and "deepset" in models


def train_task(
    task: str, s: DigitsSettings, seeds: list[int], device: torch.device, progress: bool
) -> Trained:
    """Train MODELS on `task`, one run per seed: the models of one schedule in one engine call
    per phase."""
    t0 = time.perf_counter()
    X, mask, y = task_sets(task, s.train_sets, s.train_sizes, "train", s.seed + TRAIN_OFFSET)
    plans = {m: schedule(m, task, s) for m in MODELS}
    models = {m: [build(m, task, s, seed).to(device) for seed in seeds] for m in MODELS}
    losses: dict[str, np.ndarray] = {}
    for plan in dict.fromkeys(plans.values()):  # each schedule once, in MODELS' order
        names = [m for m in MODELS if plans[m] == plan]
        group = [models[m][k] for k in range(len(seeds)) for m in names]  # run by run
        draws = [seed for seed in seeds for _ in names]  # run s: one batch order for its models
        sets = X
        if shifted(names, task) and s.max_shift:  # one shifted copy, for the image DeepSet
            sets = shift_images(X, s.max_shift, generator=s.seed + TRAIN_OFFSET + 1)
        fine = [d + FINE_OFFSET for d in draws]
        phases = [(plan.steps, plan.lr, draws, "mae"), (plan.fine_steps, plan.fine_lr, fine, "mae")]
        L = train_phases(group, (sets, y, mask), phases, s.batch_size, s.threads, progress)
        losses |= {m: L[i :: len(names)] for i, m in enumerate(names)}  # (S, T) each
    curves = {m: losses[m] for m in MODELS}
    return Trained(task, models, curves, plans, time.perf_counter() - t0)


CHUNK = 500  # sets per forward pass: bounds the Set Transformer's attention at 100 digits


@dataclass(frozen=True)
class Evaluation:
    """What one task's trained models measured on the test split."""

    accuracy: dict[str, np.ndarray]
    """Model name -> accuracy (S, L) at each of the settings' lengths."""
    per_object: dict[str, np.ndarray]
    """Model name -> (S,): its output on each single test image (image task) or on each digit
    token 1..9 (text task) as a set of one, rounded, against the digit."""
    ceiling: Ceiling | None
    """The supervised ceiling on the same test sets (image task only)."""


def correct(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> int:
    """How many of the sets X (B, N, F) the model sums right: round(prediction) == y (B, 1)."""
    hits = 0
    for i in range(0, len(y), CHUNK):
        p = predict(model, X[i : i + CHUNK], mask[i : i + CHUNK])  # (b, 1)
        hits += int((p.round() == y[i : i + CHUNK]).sum())
    return hits


@torch.no_grad()
def per_token_accuracy(model: nn.Module) -> float:
    """The fraction of the digits 1..9 whose set of one token the model sums right (rounded)."""
    p = next(model.parameters())
    X = torch.tensor(DIGITS, device=p.device).reshape(-1, 1, 1)  # (M, 1, 1) int64 tokens
    mask = torch.ones(X.shape[:2], dtype=torch.bool, device=p.device)  # (M, 1)
    values = predict(model, X, mask)[:, 0].round().cpu()  # (M,)
    return float((values == X[:, 0, 0].cpu().to(values.dtype)).double().mean())


def per_object(model: nn.Module, task: str) -> float:
    """The model's accuracy on single objects of `task` (the images of the test split)."""
    return per_token_accuracy(model) if task == "text" else model_per_image_accuracy(model)


def evaluate(trained: Trained, s: DigitsSettings, device: torch.device) -> Evaluation:
    """Every model's accuracy at each of `s.lengths` on the test split's sets, its accuracy on
    single objects, and (images) the supervised ceiling.

    The sets of length n come from generator seed + TEST_OFFSET + n, the same for every model
    and run and for the ceiling. The lengths are shared out over the engine's workers (forked
    processes on the CPU): each length's numbers are the same whichever process measures them.
    """
    classifier = fit_classifier() if trained.task == "image" else None
    workers = workers_of(s, device)

    def one(n: int) -> tuple[dict[str, list[float]], float | None]:
        return _one_length(trained, s, device, classifier, n)

    columns = fork_map(one, list(s.lengths), workers)  # per length: model -> (S,), ceiling
    acc = {m: np.array([c[m] for c, _ in columns]).T for m in MODELS}  # (S, L) each
    singles = {
        m: np.array([per_object(model, trained.task) for model in trained.models[m]])
        for m in MODELS
    }
    ceiling = None
    if classifier is not None:
        exact = tuple(e for _, e in columns if e is not None)
        ceiling = Ceiling(describe(), per_image_accuracy(classifier), s.lengths, exact)
    return Evaluation(acc, singles, ceiling)


def _one_length(
    trained: Trained, s: DigitsSettings, device: torch.device, classifier: Classifier | None, n: int
) -> tuple[dict[str, list[float]], float | None]:
    """Each model's accuracy (per run) on the test sets of n digits, and the ceiling's."""
    X, mask, y = task_sets(trained.task, s.test_sets, (n, n), "test", s.seed + TEST_OFFSET + n)
    exact = None if classifier is None else exact_sum_accuracy(classifier, X, mask, y)
    X, mask, y = X.to(device), mask.to(device), y.to(device)
    acc = {
        m: [correct(model, X, mask, y) / len(y) for model in trained.models[m]] for m in MODELS
    }
    return acc, exact
