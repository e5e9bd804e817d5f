"""What every claim shares: its result (`Claim`), training through the engine, prediction.

Shape letters: K models, S seeds, B sets, N objects, F features, T target dims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.lab.run import run_device
from deepsets.lab.verdict import Verdict
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import Sets

# Seeds of the claims' data: run s of claim c trains on sets drawn with seed + DATA[c] + s and
# is tested on sets drawn with seed + TEST + DATA[c]; models are initialised with seed + s.
DATA = {"width": 1000, "injectivity": 2000, "averages": 3000, "equivariance": 4000, "trap": 5000}
TEST = 100_000


@dataclass(frozen=True)
class Table:
    """A table of the report: a header and rows of formatted cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Claim:
    """One claim as measured: what it says, how it was tested, the numbers and the verdict."""

    key: str
    """Its key in metrics.json's `claims`."""
    title: str
    statement: str
    """The claim, in words."""
    citation: str
    setup: str
    """What was trained on what, in words, from the settings."""
    verdict: Verdict
    tables: tuple[Table, ...]
    figure: str
    """The figure's file name (without .png)."""
    caption: str
    numbers: dict[str, Any]
    """Every measured number metrics.json keeps."""
    models: int
    """Models trained."""
    seconds: float
    """Training and measuring time."""
    trained: Mapping[str, nn.Module]
    """The trained models by name: weights/<key>-<name>.safetensors."""


def training_sets(
    task: Callable[[int], Sets], s: TheorySettings, claim: str, repeat: int = 1
) -> Sets:
    """Each seed's training sets from task(data seed), stacked (S * repeat, B, ...): seed k's
    sets are rows k * repeat ... (k + 1) * repeat - 1, one per model of that seed."""
    parts = [task(s.seed + DATA[claim] + k) for k in range(s.seeds)]
    return tuple(  # type: ignore[return-value]
        torch.stack([p[i] for p in parts for _ in range(repeat)]) for i in range(3)
    )


def test_sets(task: Callable[[int], Sets], s: TheorySettings, claim: str) -> Sets:
    """The claim's test sets, shared by all its models, from their own seed."""
    return task(s.seed + TEST + DATA[claim])


K = TypeVar("K")  # a model's name: a pooling, a latent width
M = TypeVar("M", bound=nn.Module)


def seed_major(
    s: TheorySettings, names: Sequence[K], build: Callable[[K, int], M]
) -> tuple[list[M], dict[K, list[M]]]:
    """build(name, seed + k) for every seed k and name, seed-major (model k * len(names) + j
    trains on data row k * len(names) + j: `training_sets` with repeat=len(names)), and the same
    models by name, one per seed."""
    models = [build(n, s.seed + k) for k in range(s.seeds) for n in names]
    return models, {n: models[j :: len(names)] for j, n in enumerate(names)}


def fit(
    models: Sequence[nn.Module],
    data: Sets,
    steps: int,
    s: TheorySettings,
    *,
    loss: str,
    lr: float,
    masked: bool,
) -> None:
    """Train `models` (model k on data row k) with the engine, batches drawn by each model's
    own generator (its init seed), all in one call: models of one configuration share a stack.
    The models move to the study's device (`--device`) first; they stay there."""
    device = run_device(s)
    for m in models:
        m.to(device)
    X, mask, y = (t.to(device) for t in data)
    batch = min(s.batch_size, X.shape[1])
    train_on(
        models, (X, y, mask if masked else None), steps, lr=lr, loss=loss, batch_size=batch,
        seeds=[s.seed + k for k in range(len(models))],
        engine=Engine(progress=False, threads=s.threads),
    )  # fmt: skip


def outputs(model: nn.Module, data: Sets, masked: bool) -> torch.Tensor:
    """model's outputs on the sets of `data` (B, *T), in eval mode, without gradients, computed
    on the model's device and returned on the CPU (where `data` lives)."""
    device = next(model.parameters()).device
    X, mask, _ = (t.to(device) for t in data)
    with torch.no_grad():
        model.eval()
        out: torch.Tensor = model(X, mask) if masked else model(X)
    return out.cpu()


def accuracy(model: nn.Module, data: Sets, masked: bool) -> float:
    """The share of targets (sets or objects) a classifier gets right (threshold 1/2)."""
    p = outputs(model, data, masked)  # (B, *T)
    return float(((p > 0.5).float() == data[2]).float().mean())


def relative_mse(model: nn.Module, data: Sets) -> float:
    """Test MSE divided by the variance of the targets (1 = predicting their mean)."""
    y = data[2]
    return float(((outputs(model, data, False) - y) ** 2).mean() / y.var())


def summary(values: Sequence[float]) -> dict[str, float]:
    """Mean, median, min and max over seeds."""
    v = np.asarray(values, dtype=float)
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
    }
