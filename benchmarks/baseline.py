"""The straightforward solution of the exercise: what the benchmarks measure the package against.

Written the way a student would write it from the exercise sheet, not crippled: a Python loop
over the sets in `make_data`, plain `nn.Module`s, default `torch.optim.Adam`, `loss.item()`
every step, and models trained one after another. It never imports the `deepsets` package.

Shape letters: B sets, N = 10 objects, F = 1 feature, H hidden units, L latent features.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def make_data(N: int, n_objects: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """N sets, N/2 per class: class 0 has three objects at 1/3, class 1 five at 1/5."""
    X = np.zeros((N, n_objects, 1), dtype=np.float32)
    y = np.zeros((N, 1), dtype=np.float32)
    for i in range(N):
        label = i % 2
        count = 5 if label == 1 else 3
        idx = np.random.choice(n_objects, size=count, replace=False)  # noqa: NPY002
        X[i, idx, 0] = 1.0 / count
        y[i, 0] = label
    perm = np.random.permutation(N)  # noqa: NPY002 (the global RNG, as course notebooks do)
    return torch.from_numpy(X[perm]), torch.from_numpy(y[perm])


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class DeepSet(nn.Module):
    """phi: R -> R^L per object, pooled over the set, then rho: R^L -> (0, 1)."""

    def __init__(
        self, hidden: int = 5, activation: str | None = "tanh", latent: int = 1, pooling="sum"
    ) -> None:
        super().__init__()

        def act() -> list[nn.Module]:
            return [] if activation is None else [ACTIVATIONS[activation]()]

        self.phi = nn.Sequential(
            nn.Linear(1, hidden), *act(),
            nn.Linear(hidden, hidden), *act(),
            nn.Linear(hidden, latent),
        )  # fmt: skip
        self.rho = nn.Sequential(
            nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, 1), nn.Sigmoid()
        )
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.phi(x)  # (B, N, L)
        if self.pooling == "sum":
            z = h.sum(dim=1)
        elif self.pooling == "mean":
            z = h.mean(dim=1)
        else:
            z = h.max(dim=1).values
        return self.rho(z)  # (B, 1)


def make_mlp(hidden: tuple[int, ...] = (20, 20), activation: str = "relu") -> nn.Sequential:
    """Flatten the set and classify it with a plain fully connected network."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 10
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers += [nn.Linear(width, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def train(model: nn.Module, steps: int = 4000, lr: float = 1e-3) -> tuple[nn.Module, list[float]]:
    """Adam on binary cross-entropy, a fresh make_data(100) every step; returns the loss history."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCELoss()
    losses = []
    for _ in range(steps):
        X, y = make_data(100)
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def train_all(models: list[nn.Module], steps: int = 4000) -> list[list[float]]:
    """Train several models the plain way: one after another."""
    return [train(m, steps)[1] for m in models]
