"""Models with a tie: one weight used in two places (a Linear used twice, phi is rho)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from deepsets import DeepSet
from deepsets.models.seeding import seeded_init


def linear_twice() -> DeepSet:
    with seeded_init(0):
        twice = nn.Linear(4, 4)
        phi = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), twice, nn.Tanh(), twice, nn.Tanh(),
                            nn.Linear(4, 2))  # fmt: skip
        rho = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    return DeepSet(phi=phi, rho=rho)


def phi_is_rho() -> DeepSet:
    with seeded_init(1):
        same = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    return DeepSet(phi=same, rho=same)


def mlp_linear_twice() -> nn.Sequential:
    with seeded_init(2):
        twice = nn.Linear(6, 6)
        return nn.Sequential(nn.Flatten(), nn.Linear(10, 6), nn.ReLU(), twice, nn.ReLU(), twice,
                             nn.ReLU(), nn.Linear(6, 1), nn.Sigmoid())  # fmt: skip


TIED: dict[str, Callable[[], nn.Module]] = {
    "a Linear used twice in phi": linear_twice,
    "phi is rho": phi_is_rho,
    "a Linear used twice in an MLP": mlp_linear_twice,
}
