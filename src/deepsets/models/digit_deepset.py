"""The paper's digit-sum DeepSet (Zaheer et al. 2017, section 4.1.1): a regression on sets.

phi embeds each digit (text: Embedding(10, 100); image: a ReLU MLP on the pixels) and maps it
through Dense(30, tanh); the objects' phi are summed, padding excluded by the mask; rho is one
Dense(1), so the output is linear in the pooled sum and can follow sums far past the training
range. It is the package's `DeepSet` with these modules as phi and rho.

Shape letters: B sets, N objects, F features, E encoded features, L latent features.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.checks import positive_int
from deepsets.models.deepset import DeepSet
from deepsets.models.encoder import DigitEncoder
from deepsets.models.seeding import child_seed, seeded_init


def digit_deepset(
    in_features: int | None = None,
    *,
    width: int = 100,
    latent: int = 30,
    generator: torch.Generator | int | None = None,
) -> DeepSet:
    """DeepSet(phi=Sequential(encoder, Dense(latent, tanh)), rho=Dense(1), pooling="sum").

    Its forward takes X (B, N, 1) or (B, N) digit tokens, or (B, N, F) pixels, and a mask
    (B, N) or None, and gives the predicted sums (B, 1); an empty set gives rho(0).

    Arguments:
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        width: E, the encoder's output (the paper: an embedding of 100).
        latent: L, phi's output (the paper: 30).
        generator: a torch.Generator or integer seed for the initial weights (one seed is drawn
            from it, as for the recurrent models and the Set Transformer).
    """
    latent = positive_int(latent, "latent")
    with seeded_init(child_seed(generator)):
        encoder = DigitEncoder(width, in_features)
        phi = nn.Sequential(encoder, nn.Linear(encoder.width, latent), nn.Tanh())
        rho = nn.Linear(latent, 1)
    return DeepSet(phi=phi, rho=rho, pooling="sum")


