"""The models of the paper's two tables (`max_model`, Table 1; `cluster_model`, section 5.3,
both `SetModel`s), each trained over runs (data, two phases, timing), and their test numbers:
the max regression's mean absolute error, the clustering's log-likelihood per point (each test
dataset's mean over its points, then the mean over datasets), the oracle's.

The runs share one training set per task (generator seed + TRAIN_OFFSET) and differ in their
initial weights (seed + s) and the order of their batches. All models of a task train in
one engine call per phase: `steps - fine_steps` Adam steps at lr, then `fine_steps` at lr / 10 (a
fresh Adam; the engine keeps the learning rate fixed within a call, and the paper lowers it for
the last 30% of the clustering's steps).

Shape letters: S runs (seeds), T training steps, B sets, N objects, K mixture components.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepsets.lab.run import cpu_seconds, train_phases
from deepsets.models.set_transformer import Layers, SetModel
from deepsets.studies.attention.settings import CHUNK, CLUSTER_MODELS, MAX_MODELS, AttentionSettings
from deepsets.studies.attention.tasks import (
    MIXTURE_OUTPUTS,
    MixtureSets,
    log_likelihood,
    max_regression,
    mixture_parameters,
    mixture_sets,
    oracle_log_likelihood,
)
from deepsets.training import predict

TRAIN_OFFSET = 500_000  # the training sets: generator seed + TRAIN_OFFSET (+ 1 for clustering)
FINE_OFFSET = 700_000  # the second phase's batches: generator seed + s + FINE_OFFSET
TEST_OFFSET = 900_000  # the test sets: generator seed + TEST_OFFSET (+ 1 for clustering)


@dataclass(frozen=True)
class Trained:
    """The trained models of one task: by model name, one per run (in seed order)."""

    task: str
    models: dict[str, list[nn.Module]]
    losses: dict[str, np.ndarray]
    """Training loss of every step, (S, T): MAE, or the mixture's NLL per point."""
    seconds: float
    """Wall seconds of the task's training."""
    cpu_seconds: float
    """CPU seconds of the task's training: this process and its engine workers."""


def max_sets(s: AttentionSettings, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X (B, N, 1), mask (B, N), y (B, 1) of the max regression's `split` ("train" or "test")."""
    if split == "train":
        return max_regression(s.max_train_sets, s.max_sizes, generator=s.seed + TRAIN_OFFSET)
    return max_regression(s.max_test_sets, s.max_sizes, generator=s.seed + TEST_OFFSET)


def cluster_sets(s: AttentionSettings, split: str) -> MixtureSets:
    """The clustering's `split` datasets ("train": cl_train_sizes, "test": cl_sizes)."""
    if split == "train":
        n, sizes, seed = s.cl_train_sets, s.cl_train_sizes, s.seed + TRAIN_OFFSET + 1
    else:
        n, sizes, seed = s.cl_test_sets, s.cl_sizes, s.seed + TEST_OFFSET + 1
    return mixture_sets(n, sizes, components=s.components, generator=seed)


def train_task(
    task: str, s: AttentionSettings, names: tuple[str, ...], seeds: list[int],
    device: torch.device, progress: bool,
) -> Trained:  # fmt: skip
    """Train every model of `names` on `task` ("max_regression" or "clustering"), a run per
    seed, all in one engine call per phase (its workers share out the models' work)."""
    build: Callable[[str, AttentionSettings, int], nn.Module]
    if task == "max_regression":
        X, mask, y = max_sets(s, "train")
        build, steps, fine = max_model, s.max_steps, s.max_fine_steps
        loss, batch = "mae", s.max_batch
    else:
        train = cluster_sets(s, "train")
        X, mask, y = train.points, train.mask, train.targets
        build, steps, fine = cluster_model, s.cl_steps, s.cl_fine_steps
        loss, batch = "mixture_nll", s.cl_batch
    data = (X.to(device), y.to(device), mask.to(device))
    models: list[nn.Module] = [build(name, s, seed).to(device) for name in names for seed in seeds]
    draws = [seed for _ in names for seed in seeds]  # run s: one batch order for its models
    phases = [(steps - fine, s.lr, draws, loss),
              (fine, s.lr / 10, [k + FINE_OFFSET for k in draws], loss)]  # fmt: skip
    t, cpu = time.perf_counter(), cpu_seconds()
    L = train_phases(models, data, phases, batch, s.threads, progress)  # (K, T)
    S = len(seeds)
    return Trained(
        task,
        {name: models[i * S : (i + 1) * S] for i, name in enumerate(names)},
        {name: L[i * S : (i + 1) * S] for i, name in enumerate(names)},
        time.perf_counter() - t,
        cpu_seconds() - cpu,
    )


MAX_CHUNK = 2000  # max-regression sets (at most 10 numbers each) per forward pass


def test_mae(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> float:
    """Mean absolute error of the model's maxima on X (B, N, 1) against y (B, 1)."""
    total = 0.0
    for i in range(0, len(y), MAX_CHUNK):
        p = predict(model, X[i : i + MAX_CHUNK], mask[i : i + MAX_CHUNK])  # (b, 1)
        total += float((p - y[i : i + MAX_CHUNK]).abs().sum())
    return total / len(y)


def components(
    model: nn.Module, sets: MixtureSets, K: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The model's mixtures of `sets`: log pi (B, K), mu (B, K, 2), sigma (B, K), in float64."""
    parts: list[tuple[torch.Tensor, ...]] = []
    for i in range(0, sets.points.shape[0], CHUNK):
        P, M = sets.points[i : i + CHUNK], sets.mask[i : i + CHUNK]
        p = predict(model, P, M, (K, MIXTURE_OUTPUTS))  # (b, K, 4)
        parts.append(tuple(t.double().cpu() for t in mixture_parameters(p)))
    log_pi, mu, sigma = (torch.cat(ts) for ts in zip(*parts, strict=True))
    return log_pi, mu, sigma


def test_log_likelihood(model: nn.Module, sets: MixtureSets, K: int) -> np.ndarray:
    """Each test dataset's mean log-likelihood per point under the model's mixture (B,)."""
    log_pi, mu, sigma = components(model, sets, K)
    ll = log_likelihood(sets.points.double().cpu(), sets.mask.cpu(), log_pi, mu, sigma)  # (B,)
    out: np.ndarray = ll.numpy()
    return out


def oracle(sets: MixtureSets) -> np.ndarray:
    """Each test dataset's log-likelihood per point under its true mixture (B,)."""
    out: np.ndarray = oracle_log_likelihood(sets).cpu().numpy()
    return out


NAMES = {
    "max_regression": {
        "mean": "rFF + mean pooling",
        "sum": "rFF + sum pooling",
        "max": "rFF + max pooling",
        "sab_pma": "SAB + PMA",
    },
    "clustering": {
        "oracle": "oracle (true parameters)",
        "rff_pool": "rFF + pooling (DeepSet)",
        "sab_pool": "SAB + pooling",
        "rff_pma": "rFF + PMA",
        "sab_pma": "SAB + PMA",
        "isab_pma": "ISAB + PMA",
    },
}  # how the report names each model


def max_model(name: str, s: AttentionSettings, seed: int) -> SetModel:
    """Table 1's model `name`: rFF (rff_blocks x D) -> pooling -> FC(D, ReLU) -> FC(1), or
    Linear(1, D) -> SAB x attention_blocks -> PMA (1 seed) -> FC(1)."""
    if name not in MAX_MODELS:
        raise ValueError(f"model must be one of {tuple(MAX_MODELS)}, got {name!r}")
    enc, pool = MAX_MODELS[name]
    blocks = s.rff_blocks if enc == "rff" else s.attention_blocks
    layers = Layers(s.max_dim, s.heads, blocks, decoder=0 if pool == "pma" else 1)
    return SetModel(1, 1, encoder=enc, pooling=pool, layers=layers, generator=seed)


def cluster_model(name: str, s: AttentionSettings, seed: int) -> SetModel:
    """Section 5.3's model `name`: k mixture components of MIXTURE_OUTPUTS numbers each; after
    a mean pooling pool_decoder FC layers, after PMA (k seeds) pma_decoder SABs."""
    if name not in CLUSTER_MODELS:
        raise ValueError(f"model must be one of {tuple(CLUSTER_MODELS)}, got {name!r}")
    enc, pool = CLUSTER_MODELS[name]
    blocks = s.rff_blocks if enc == "rff" else s.attention_blocks
    decoder = s.pma_decoder if pool == "pma" else s.pool_decoder
    layers = Layers(s.cl_dim, s.heads, blocks, s.inducing, decoder)
    return SetModel(
        2, MIXTURE_OUTPUTS, encoder=enc, pooling=pool, seeds=s.components, layers=layers,
        generator=seed,
    )
