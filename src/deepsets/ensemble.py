"""Train many models at once: K networks of one architecture, each with its own seed.

Member k sees exactly the data stream `train(model_k, seed=seeds[k])` would see, so an
ensemble member is the same model as one trained alone with the same initialisation and seed.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from deepsets.training import train


def train_many(
    models: list[nn.Module],
    steps: int = 4000,
    *,
    seeds: list[int],
    batch_size: int = 100,
    lr: float = 1e-3,
    n_objects: int = 10,
    progress: bool | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train model k on the data stream of seeds[k]; return the models and losses (K, steps)."""
    if len(models) != len(seeds):
        raise ValueError(f"need one seed per model, got {len(models)} models, {len(seeds)} seeds")
    out = [
        train(
            m, steps, batch_size=batch_size, lr=lr, seed=s, n_objects=n_objects, progress=progress
        )
        for m, s in zip(models, seeds, strict=True)
    ]
    return [m for m, _ in out], np.stack([loss for _, loss in out])
