"""A DeepSet pooled by a smooth maximum with a learned sharpness, and an increasing phi at
initialisation: the networks that try to escape the max-pooling trap.

Shape letters: B sets, N objects, F features, L latent features.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from deepsets.checks import positive_float
from deepsets.models.arguments import recorded
from deepsets.models.deepset import DeepSet
from deepsets.models.pooling import check_mask
from deepsets.models.smooth_pooling import SMOOTH_POOLINGS, logsumexp_pool, power_mean_pool


class SmoothMaxDeepSet(DeepSet):
    """A DeepSet pooled by a smooth maximum with a learned sharpness.

    "logsumexp" pools t * log sum exp(phi / t) with a learned temperature t (starting at
    `sharpness`); "powermean" pools (mean softplus(phi)^p)^(1/p) with a learned p >= 1
    (starting at `sharpness`). Other arguments as DeepSet's (its `pooling` is replaced).
    """

    @recorded
    def __init__(
        self, smooth: str = "logsumexp", sharpness: float = 1.0, **deepset: object
    ) -> None:
        if smooth not in SMOOTH_POOLINGS:
            raise ValueError(f"smooth must be one of {SMOOTH_POOLINGS}, got {smooth!r}")
        s = positive_float(sharpness, "sharpness")
        if smooth == "powermean" and s < 1:
            raise ValueError(f"sharpness (the initial p) must be at least 1, got {s}")
        super().__init__(**{**deepset, "pooling": "max"})  # type: ignore[arg-type]
        self.smooth = smooth
        # log t, or log(p - 1) (p - 1 > 0 keeps the power mean at least the mean)
        start = math.log(s) if smooth == "logsumexp" else math.log(max(s - 1, 1e-3))
        self.log_sharpness = nn.Parameter(torch.tensor(start))

    @property
    def pooling(self) -> str:
        return self.smooth

    def embed(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(X)
        mask = check_mask(mask, X)
        h = self.phi(X)  # (B, N, L)
        if self.smooth == "logsumexp":
            return logsumexp_pool(h, mask, self.log_sharpness.exp())  # (B, L)
        return power_mean_pool(F.softplus(h), mask, 1 + self.log_sharpness.exp())  # (B, L)


@torch.no_grad()
def make_phi_increasing(model: DeepSet) -> DeepSet:
    """Make a 1-feature DeepSet's phi increasing at initialisation, in place: every weight of phi
    made positive and the hidden biases zeroed, so phi(0) < phi(1/5) < phi(1/3) from the start
    (for increasing activations such as tanh) and max pooling sees the largest object."""
    if not isinstance(model, DeepSet) or model.config is None or model.config["in_features"] != 1:
        raise TypeError(f"model must be a DeepSet with in_features=1, got {model!r:.80}")
    linears = [m for m in model.phi.modules() if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):
        lin.weight.abs_()
        if i < len(linears) - 1:
            lin.bias.zero_()
    return model
