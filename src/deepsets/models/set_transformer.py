"""The Set Transformer (Lee et al. 2019): self-attention blocks (SAB) and attention pooling (PMA).

MAB(Q, K) = H + relu(Dense(H)), H = Q + Multihead(Q, K, K) (the paper's block without layer
norm, its default). SAB(X) = MAB(X, X) is permutation-equivariant; PMA(Z) = MAB(S, Z) with a
learned seed S pools a set into one vector, invariantly. Padding is excluded from every
attention by torch's key_padding_mask. An empty set has nothing to attend to: softmax over no
keys is undefined (NaN in torch), so its attention is computed over unmasked padding, which keeps
every number finite, and then replaced by zero, so its blocks pass Q through unchanged.

Shape letters: B sets, N objects, Q queries, D model width.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.models.arguments import recorded
from deepsets.models.encoder import DigitEncoder
from deepsets.models.seeding import child_seed, seeded_init
from deepsets.validate import positive_int


class MAB(nn.Module):
    """Multihead attention block: Q (B, Q, D) attends to K (B, N, D) where mask (B, N) is True."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Linear(dim, dim)

    def forward(self, Q: torch.Tensor, K: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        H = Q if K.shape[1] == 0 else Q + self.attend(Q, K, mask)  # (B, Q, D)
        return H + torch.relu(self.ff(H))  # (B, Q, D)

    def attend(self, Q: torch.Tensor, K: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multihead(Q, K, K) over the real objects (B, Q, D); zero for an empty set."""
        empty = ~mask.any(dim=1)  # (B,) sets with nothing to attend to
        ignore = ~mask & ~empty.unsqueeze(1)  # (B, N): an empty set attends to its padding
        a, _ = self.attention(Q, K, K, key_padding_mask=ignore, need_weights=False)  # (B, Q, D)
        out: torch.Tensor = a.masked_fill(empty.view(-1, 1, 1), 0.0)  # (B, Q, D)
        return out  # an empty set's attention adds nothing to Q


class SetTransformer(nn.Module):
    """encoder -> SAB x blocks -> PMA (one seed) -> Dense(1): a regression on sets.

    Arguments:
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        dim: D, the width of every block (the encoder's output too).
        heads: attention heads (D must be a multiple of it).
        blocks: SABs in the encoder (the paper: 2).
        generator: a torch.Generator or integer seed for the initial weights.
    """

    @recorded
    def __init__(
        self,
        in_features: int | None = None,
        *,
        dim: int = 64,
        heads: int = 4,
        blocks: int = 2,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        dim, heads = positive_int(dim, "dim"), positive_int(heads, "heads")
        if dim % heads:
            raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
        with seeded_init(child_seed(generator)):
            self.encoder = DigitEncoder(dim, in_features)
            self.sabs = nn.ModuleList(
                MAB(dim, heads) for _ in range(positive_int(blocks, "blocks"))
            )
            self.seed = nn.Parameter(torch.randn(1, 1, dim) / dim**0.5)  # S (1, 1, D)
            self.pma = MAB(dim, heads)
            self.rho = nn.Linear(dim, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted sums: X (B, N, 1) tokens or (B, N, F), mask (B, N) or None -> (B, 1)."""
        X, valid = self.encoder.check(X, mask)
        Z = self.encoder(X)  # (B, N, D)
        for sab in self.sabs:
            Z = sab(Z, Z, valid)  # (B, N, D)
        S = self.seed.expand(Z.shape[0], 1, -1)  # (B, 1, D)
        pooled = self.pma(S, Z, valid)  # (B, 1, D)
        p: torch.Tensor = self.rho(pooled[:, 0])  # (B, 1)
        return p
