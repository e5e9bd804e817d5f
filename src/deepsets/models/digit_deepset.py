"""The paper's digit-sum DeepSet (Zaheer et al. 2017, section 4.1.1): a regression on sets.

phi embeds each digit (text: Embedding(10, 100); image: a tanh layer on the pixels) and maps it
through Dense(30, tanh); the objects' phi are summed, padding excluded by the mask; rho is one
Dense(1), so the output is linear in the pooled sum and can follow sums far past the training
range.

Shape letters: B sets, N objects, F features, E encoded features, L latent features.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.models.encoder import DigitEncoder
from deepsets.models.pooling import pool
from deepsets.models.seeding import seeded_init
from deepsets.validate import positive_int


class DigitDeepSet(nn.Module):
    """rho(sum_i phi(x_i)) with phi = encoder, Dense(latent, tanh) and rho = Dense(1).

    Arguments:
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        width: E, the encoder's output (the paper: an embedding of 100).
        latent: L, phi's output (the paper: 30).
        generator: a torch.Generator or integer seed for the initial weights.
    """

    def __init__(
        self,
        in_features: int | None = None,
        *,
        width: int = 100,
        latent: int = 30,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        latent = positive_int(latent, "latent")
        with seeded_init(generator):
            self.encoder = DigitEncoder(width, in_features)
            self.phi = nn.Sequential(self.encoder, nn.Linear(width, latent), nn.Tanh())
            self.rho = nn.Linear(latent, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted sums: X (B, N, 1) tokens or (B, N, F), mask (B, N) or None -> (B, 1)."""
        X, valid = self.encoder.check(X, mask)
        h = self.phi(X)  # (B, N, L)
        out: torch.Tensor = self.rho(pool(h, valid, "sum"))  # (B, 1); an empty set: rho(0)
        return out
