"""Training the four models of one task over seeds, through the package's engine (`train_on`).

Every run trains on one shared training set (drawn from the base seed), so runs differ in their
initial weights and the order of their batches; the four models of run s draw the same batches
(generator seed + s). Training has two phases, `steps` at `lr` then `fine_steps` at `fine_lr`
(a fresh Adam): the engine keeps the learning rate fixed within a call, and the DeepSet's sums of
up to 100 digits need each digit's value to about 1/200, which a fixed lr of 1e-3 leaves noisy
(one run at batch 128: 3000 steps at 1e-3 alone, 18% correct at 100 digits; 2000 steps at 1e-3
then 1000 at 1e-4, 100%).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.studies.digits.models import build
from deepsets.studies.digits.settings import MODELS, DigitsSettings
from deepsets.tasks import digit_sum, image_digit_sum
from deepsets.training import train_on

TRAIN_OFFSET = 500_000  # the training sets: generator seed + TRAIN_OFFSET
FINE_OFFSET = 700_000  # the second phase's batches: generator seed + s + FINE_OFFSET
TEST_OFFSET = 900_000  # the test sets of length n: generator seed + TEST_OFFSET + n


@dataclass(frozen=True)
class Trained:
    """The trained models of one task: by model name, one per run (in seed order)."""

    task: str
    models: dict[str, list[nn.Module]]
    losses: dict[str, np.ndarray]
    """Mean absolute error of every step, (S, steps + fine_steps)."""
    seconds: float


def task_sets(
    task: str, n_sets: int, sizes: tuple[int, int], split: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X, mask, y of `task` ("text" or "image"): see `deepsets.tasks.digits`."""
    if task == "text":
        return digit_sum(n_sets, sizes, generator=seed)
    return image_digit_sum(n_sets, sizes, split=split, generator=seed)


def train_task(
    task: str, s: DigitsSettings, seeds: list[int], device: torch.device, progress: bool
) -> Trained:
    """Train MODELS on `task`, one run per seed, all in one engine call per phase."""
    t0 = time.perf_counter()
    models = [build(m, task, s, seed).to(device) for seed in seeds for m in MODELS]
    X, mask, y = task_sets(task, s.train_sets, s.train_sizes, "train", s.seed + TRAIN_OFFSET)
    draws = [seed for seed in seeds for _ in MODELS]  # run s: one batch order for its models
    phases = [(s.steps, s.lr, draws)]
    if s.fine_steps:
        phases.append((s.fine_steps, s.fine_lr, [d + FINE_OFFSET for d in draws]))
    losses = []
    for steps, lr, phase_seeds in phases:
        _, phase_losses = train_on(
            models, X, y, steps, mask=mask, lr=lr, loss="mae", batch_size=s.batch_size,
            seeds=phase_seeds, progress=progress, threads=s.threads,
        )  # fmt: skip
        losses.append(phase_losses)  # (K, steps)
    L = np.concatenate(losses, axis=1)  # (K, steps + fine_steps), K = S * len(MODELS)
    by_model = {
        m: [models[k * len(MODELS) + i] for k in range(len(seeds))] for i, m in enumerate(MODELS)
    }
    curves = {m: L[i :: len(MODELS)] for i, m in enumerate(MODELS)}  # (S, T) each
    return Trained(task, by_model, curves, time.perf_counter() - t0)
