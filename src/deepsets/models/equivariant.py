"""The permutation-equivariant layer of the DeepSets paper: x_i -> Lambda x_i + Gamma pool(x) + b.

Shape letters: B sets, N objects, F input features, D output features. Permuting the objects
of the input permutes the rows of the output the same way; stack these layers, then pool, to
build deeper set networks.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.checks import check_memory, positive_int
from deepsets.models.pooling import check_mask, check_pooling, pool


class PermEquivariant(nn.Module):
    """One equivariant layer: (B, N, F) -> (B, N, D), with `pooling` over the set."""

    def __init__(self, in_features: int, out_features: int, pooling: str = "sum") -> None:
        super().__init__()
        self.pooling = check_pooling(pooling)
        in_features = positive_int(in_features, "in_features")
        out_features = positive_int(out_features, "out_features")
        n_params = (2 * in_features + 1) * out_features
        check_memory(
            n_params * torch.get_default_dtype().itemsize,
            f"PermEquivariant(in_features={in_features}, out_features={out_features})",
        )
        self.Lambda = nn.Linear(in_features, out_features)  # per-object term, with the bias
        self.Gamma = nn.Linear(in_features, out_features, bias=False)  # set-wide term

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, N, F), mask (B, N) or None -> (B, N, D); padded rows come out as 0."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            what = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"PermEquivariant expects x a floating-point torch.Tensor, got {what}")
        if x.dim() != 3 or x.shape[-1] != self.Lambda.in_features:
            raise ValueError(
                f"PermEquivariant expects x of shape (B, N, {self.Lambda.in_features}), "
                f"got {tuple(x.shape)}"
            )
        if x.dtype != self.Lambda.weight.dtype:
            raise TypeError(
                f"PermEquivariant expects x of dtype {self.Lambda.weight.dtype} like its weights, "
                f"got {x.dtype} (use x.to({self.Lambda.weight.dtype}) or layer.to({x.dtype}))"
            )
        mask = check_mask(mask, x)
        g = self.Gamma(pool(x, mask, self.pooling))  # (B, D)
        out: torch.Tensor = self.Lambda(x) + g.unsqueeze(1)  # (B, N, D)
        if mask is not None:
            out = out.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, N, D), even if padding is inf
        return out
