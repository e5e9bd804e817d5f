"""Permutation-invariant pooling over the objects of a set: sum, mean and max, with masks.

Shape letters: B sets, N objects, L latent features. A mask (B, N) is True for real objects;
padding never changes the result. An empty set pools to 0 for every kind.
"""

from __future__ import annotations

import torch

POOLINGS = ("sum", "mean", "max")


def check_pooling(pooling: str, name: str = "pooling") -> str:
    """Return `pooling` if it is one of POOLINGS, else raise a ValueError naming them."""
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(f"{name} must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def check_mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """Validate a (B, N) boolean mask against x (B, N, ...)."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor of shape (B, N), got {mask!r:.80}")
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"mask must have shape (B, N) = {tuple(x.shape[:2])} to match the input, "
            f"got {tuple(mask.shape)}"
        )
    return mask


def pool(h: torch.Tensor, mask: torch.Tensor | None = None, kind: str = "sum") -> torch.Tensor:
    """Pool h (B, N, L) over the objects into (B, L), ignoring objects where mask is False."""
    check_pooling(kind, "kind")
    if not isinstance(h, torch.Tensor) or not h.is_floating_point():
        what = h.dtype if isinstance(h, torch.Tensor) else type(h).__name__
        raise TypeError(f"h must be a floating-point torch.Tensor of shape (B, N, L), got {what}")
    if h.dim() != 3:
        raise ValueError(
            f"h must have shape (B, N, L) (sets, objects, features), got {tuple(h.shape)}"
        )
    mask = check_mask(mask, h)
    if h.shape[1] == 0:  # no objects at all: mean would be nan and max would raise
        return h.new_zeros(h.shape[0], h.shape[2])  # (B, L)
    if mask is not None and kind != "max":
        # masked_fill, not a product: padding that is inf or nan must not leak in (inf * 0 = nan)
        h = h.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, N, L), padding zeroed
    if kind == "sum":
        return h.sum(dim=1)  # (B, L)
    if kind == "mean":
        if mask is None:
            return h.mean(dim=1)  # (B, L)
        n = mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1)
        return h.sum(dim=1) / n  # (B, L)
    # max
    if mask is None:
        return h.amax(dim=1)  # (B, L)
    m = mask.unsqueeze(-1)  # (B, N, 1)
    pooled = h.masked_fill(~m, float("-inf")).amax(dim=1)  # (B, L)
    return torch.where(m.any(dim=1), pooled, torch.zeros_like(pooled))  # empty sets -> 0
