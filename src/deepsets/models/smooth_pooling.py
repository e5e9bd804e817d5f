"""Smooth maxima for pooling a set: log-sum-exp and the power mean, with masks.

Shape letters: B sets, N objects, L latent features. Like `pooling.pool`, a mask (B, N) is True
for real objects, padding never changes the result, and an empty set pools to 0. Both are
invariant to the order of the objects and tend to the max: log-sum-exp as its temperature goes
to 0, the power mean as its exponent grows. Unlike the max, every object gets a gradient.
"""

from __future__ import annotations

import torch

from deepsets.models.pooling import check_mask

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
