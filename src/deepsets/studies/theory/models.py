"""The theory study's networks beyond the package's DeepSet: a smooth-max DeepSet, a per-object
network without interaction, a stack of `PermEquivariant` layers, and an increasing phi.

Shape letters: B sets, N objects, F features, H hidden units, L latent features.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from deepsets.models.activation import check_activation, dense, seeded
from deepsets.models.deepset import DeepSet
from deepsets.models.equivariant import PermEquivariant
from deepsets.models.pooling import check_mask, check_pooling
from deepsets.models.smooth_pooling import SMOOTH_POOLINGS, logsumexp_pool, power_mean_pool
from deepsets.validate import positive_float, positive_int


class SmoothMaxDeepSet(DeepSet):
    """A DeepSet pooled by a smooth maximum with a learned sharpness.

    "logsumexp" pools t * log sum exp(phi / t) with a learned temperature t (starting at
    `sharpness`); "powermean" pools (mean softplus(phi)^p)^(1/p) with a learned p >= 1
    (starting at `sharpness`). Other arguments as DeepSet's (its `pooling` is replaced).
    """

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


class PerElementNet(nn.Module):
    """phi applied to each object alone, then a sigmoid: (B, N, F) -> (B, N); no interaction."""

    def __init__(
        self,
        hidden: int = 16,
        activation: str = "tanh",
        *,
        in_features: int = 1,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        H, Fin = positive_int(hidden, "hidden"), positive_int(in_features, "in_features")
        act = check_activation(activation)
        self.phi = nn.Sequential(*dense([Fin, H, H, 1], act, seeded(generator)))

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); `mask` is accepted and has no effect on real objects."""
        return torch.sigmoid(self.phi(X)[..., 0])  # (B, N)


class EquivariantNet(nn.Module):
    """`layers` PermEquivariant layers (x -> Lambda x + Gamma pool(x)) with tanh between, then a
    sigmoid: (B, N, F) -> per-object probabilities (B, N)."""

    def __init__(
        self,
        hidden: int = 16,
        layers: int = 3,
        pooling: str = "mean",
        *,
        in_features: int = 1,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        H, depth = positive_int(hidden, "hidden"), positive_int(layers, "layers")
        sizes = [positive_int(in_features, "in_features"), *[H] * (depth - 1), 1]
        check_pooling(pooling)
        g = seeded(generator)
        self.layers = nn.ModuleList(
            PermEquivariant(a, b, pooling) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        if g is not None:  # the package's layer draws from the global generator; redraw here
            with torch.no_grad():
                for a, layer in zip(sizes[:-1], self.layers, strict=True):
                    bound = 1 / math.sqrt(a)  # nn.Linear's default range for `a` inputs
                    for p in layer.parameters():
                        p.uniform_(-bound, bound, generator=g)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); padded objects come out as sigmoid(0) = 1/2."""
        h = X  # (B, N, F)
        for i, layer in enumerate(self.layers):
            h = layer(h, mask)  # (B, N, H)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return torch.sigmoid(h[..., 0])  # (B, N)


@torch.no_grad()
def make_phi_increasing(model: DeepSet) -> DeepSet:
    """Make a 1-feature DeepSet's phi increasing at initialisation, in place: every weight of phi
    made positive and the hidden biases zeroed, so phi(0) < phi(1/5) < phi(1/3) from the start
    (for increasing activations such as tanh) and max pooling sees the largest object."""
    if not isinstance(model, DeepSet) or model.config["in_features"] != 1:
        raise TypeError(f"model must be a DeepSet with in_features=1, got {model!r:.80}")
    linears = [m for m in model.phi if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):
        lin.weight.abs_()
        if i < len(linears) - 1:
            lin.bias.zero_()
    return model
