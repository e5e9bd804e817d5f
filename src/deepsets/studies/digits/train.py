"""Training the models of one task over seeds, through the package's engine (`train_on`).

Every run trains on one shared training set (drawn from the base seed), so runs differ in their
initial weights and the order of their batches; the models of run s draw the same batches
(generator seed + s). Training has two phases, `steps` at `lr` then `fine_steps` at `fine_lr`
(a fresh Adam; the engine keeps the learning rate fixed within a call): sums of up to 100 digits
need each digit's value to about 1/200. The image DeepSet has its own schedule
(`image_deepset_*`) and trains on images shifted once by up to `max_shift` pixels
(`shift_images`, generator seed + TRAIN_OFFSET + 1); the other image models on the images as
they are, their better choice at their schedule (measured: docs/studies/digits.md). The models
of one schedule train in one engine call per phase.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.studies.digits.models import build
from deepsets.studies.digits.settings import MODELS, DigitsSettings
from deepsets.studies.digits.tasks import digit_sum, image_digit_sum, shift_images

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
        phases = [(plan.steps, plan.lr, draws)]
        if plan.fine_steps:
            phases.append((plan.fine_steps, plan.fine_lr, [d + FINE_OFFSET for d in draws]))
        parts = []
        for steps, lr, phase_seeds in phases:
            _, phase_losses = train_on(
                group, (sets, y, mask), steps, lr=lr, loss="mae", batch_size=s.batch_size,
                seeds=phase_seeds, engine=Engine(progress=progress, threads=s.threads),
            )  # fmt: skip
            parts.append(phase_losses)  # (K, steps)
        L = np.concatenate(parts, axis=1)  # (K, T), K = S * len(names)
        losses |= {m: L[i :: len(names)] for i, m in enumerate(names)}  # (S, T) each
    curves = {m: losses[m] for m in MODELS}
    return Trained(task, models, curves, plans, time.perf_counter() - t0)
