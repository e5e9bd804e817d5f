"""Permutation-invariant pooling over the objects of a set: sum, mean and max, with masks.

Shape letters: B sets, N objects, L latent features. A mask (B, N) is True for real objects;
padding never changes the result. An empty set pools to 0 for every kind.
"""

from __future__ import annotations

import torch

from deepsets.checks import check_choice

POOLINGS = ("sum", "mean", "max")


def check_pooling(pooling: str, name: str = "pooling") -> str:
    """Return `pooling` if it is one of POOLINGS, else raise a ValueError naming them."""
    return check_choice(pooling, POOLINGS, name)


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
    z, _ = masked_pool(h, None if mask is None else mask.unsqueeze(-1), kind, dim=1)
    return z  # (B, L)


def masked_pool(
    h: torch.Tensor, m: torch.Tensor | None, kind: str, dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pooling of h over its axis `dim` (the objects), unchecked: the one implementation
    behind `pool` and the engine's stacked DeepSets (which pool h (K, L, B, N) over -1).

    m is the mask, broadcastable to h (True for real objects), or None. Returns the pooled
    tensor (h without `dim`) and h with its padding filled as the pooling saw it (0 for sum
    and mean, -inf for max; h itself without a mask), from which a max's gradient is found.
    An empty set (no real object, or no objects at all) pools to 0.
    """
    N = h.shape[dim]
    if kind == "max":
        hm = h if m is None else h.masked_fill(~m, float("-inf"))
        if N == 0:  # amax of nothing would raise
            return h.sum(dim=dim), hm  # zeros
        z = hm.amax(dim=dim)
        if m is not None:  # empty sets pool to 0
            z = torch.where(m.any(dim=dim), z, torch.zeros_like(z))
        return z, hm
    # masked_fill, not a product: padding that is inf or nan must not leak in (inf * 0 = nan)
    hm = h if m is None else h.masked_fill(~m, 0.0)
    if kind == "sum":
        return hm.sum(dim=dim), hm
    if m is None:
        return (hm.mean(dim=dim) if N else hm.sum(dim=dim)), hm  # no objects: 0, not nan
    return hm.sum(dim=dim) / m.sum(dim=dim).clamp(min=1), hm
