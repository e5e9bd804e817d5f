"""The theory study's networks: a DeepSet pooled by a smooth maximum with a learned sharpness
and an increasing phi at initialisation (the networks that try to escape the max-pooling trap),
and the networks with one output per object (phi on each object alone; a stack of the paper's
equivariant layers, x -> Lambda x + Gamma pool(x)).

Smooth maxima for pooling a set: log-sum-exp and the power mean, with masks. Like `pooling.pool`,
a mask (B, N) is True for real objects, padding never changes the result, and an empty set pools
to 0. Both are invariant to the order of the objects and tend to the max: log-sum-exp as its
temperature goes to 0, the power mean as its exponent grows. Unlike the max, every object gets a
gradient.

Shape letters: B sets, N objects, F features, H hidden units, L latent features.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from deepsets.checks import positive_float, positive_int
from deepsets.models.activation import check_activation, dense
from deepsets.models.arguments import recorded
from deepsets.models.deepset import DeepSet, widths_of
from deepsets.models.equivariant import PermEquivariant
from deepsets.models.pooling import check_mask, check_pooling
from deepsets.models.seeding import seeded_init
from deepsets.weights import register

SMOOTH_POOLINGS = ("logsumexp", "powermean")


def _check(h: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """h (B, N, L) and its mask (all True if None), after checking both."""
    if not isinstance(h, torch.Tensor) or not h.is_floating_point() or h.dim() != 3:
        what = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f"h must be a floating-point tensor of shape (B, N, L), got {what}")
    mask = check_mask(mask, h)
    if mask is None:
        mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)  # (B, N)
    return h, mask


def logsumexp_pool(
    h: torch.Tensor, mask: torch.Tensor | None, temperature: torch.Tensor | float
) -> torch.Tensor:
    """t * log sum_i exp(h_i / t) over the real objects: h (B, N, L) -> (B, L).

    It lies between max_i h_i and max_i h_i + t log n for a set of n objects.
    """
    h, mask = _check(h, mask)
    empty = ~mask.any(dim=1)  # (B,)
    # padding -> -inf; an empty set's row is left finite (zeros) so no nan reaches the gradient
    hidden = ~mask.unsqueeze(-1) & ~empty.view(-1, 1, 1)  # (B, N, 1)
    z = h.masked_fill(hidden, float("-inf")).masked_fill(empty.view(-1, 1, 1), 0.0)  # (B, N, L)
    pooled = temperature * torch.logsumexp(z / temperature, dim=1)  # (B, L)
    return torch.where(empty.unsqueeze(-1), torch.zeros_like(pooled), pooled)  # (B, L)


def power_mean_pool(
    h: torch.Tensor, mask: torch.Tensor | None, p: torch.Tensor | float
) -> torch.Tensor:
    """(mean_i h_i^p)^(1/p) over the real objects, for h > 0: h (B, N, L) -> (B, L).

    p = 1 is the mean; as p grows it tends to the max.
    """
    h, mask = _check(h, mask)
    m = mask.unsqueeze(-1)  # (B, N, 1)
    n = m.sum(dim=1)  # (B, 1) real objects per set
    powered = h.clamp(min=1e-12).pow(p).masked_fill(~m, 0.0)  # (B, N, L), padding zeroed
    mean = powered.sum(dim=1) / n.clamp(min=1)  # (B, L)
    empty = n == 0  # (B, 1)
    pooled = torch.where(empty, 1.0, mean).pow(1 / p)  # (B, L): no 0^(1/p) in the gradient
    return torch.where(empty, 0.0, pooled)  # (B, L)


class SmoothMaxDeepSet(DeepSet):
    """A DeepSet pooled by a smooth maximum with a learned sharpness.

    "logsumexp" pools t * log sum exp(phi / t) with a learned temperature t (starting at
    `sharpness`); "powermean" pools (mean softplus(phi)^p)^(1/p) with a learned p >= 1
    (starting at `sharpness`). Other arguments: DeepSet's widths, flat as in its `config`
    (rho_hidden, rho_activation, output too); its `pooling` is replaced.
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
        super().__init__(**{**widths_of(deepset), "pooling": "max"})
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


class PerElementNet(nn.Module):
    """phi applied to each object alone, then a sigmoid: (B, N, F) -> (B, N); no interaction."""

    @recorded
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
        self.phi = nn.Sequential(*dense([Fin, H, H, 1], act, generator))

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); `mask` is accepted and has no effect on real objects."""
        return torch.sigmoid(self.phi(X)[..., 0])  # (B, N)


class EquivariantNet(nn.Module):
    """`layers` PermEquivariant layers (x -> Lambda x + Gamma pool(x)) with tanh between, then a
    sigmoid: (B, N, F) -> per-object probabilities (B, N)."""

    @recorded
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
        self.layers = nn.ModuleList(
            PermEquivariant(a, b, pooling) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        if generator is not None:  # drawn again from the generator, in nn.Linear's range
            with torch.no_grad(), seeded_init(generator):
                for a, layer in zip(sizes[:-1], self.layers, strict=True):
                    bound = 1 / math.sqrt(a)  # nn.Linear's default range for `a` inputs
                    for p in layer.parameters():
                        p.uniform_(-bound, bound)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-object probabilities (B, N); padded objects come out as sigmoid(0) = 1/2."""
        h = X  # (B, N, F)
        for i, layer in enumerate(self.layers):
            h = layer(h, mask)  # (B, N, H)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return torch.sigmoid(h[..., 0])  # (B, N)


register(SmoothMaxDeepSet, PerElementNet, EquivariantNet)  # deepsets.load_model rebuilds them
