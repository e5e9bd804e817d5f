"""The Set Transformer (Lee et al. 2019): attention blocks (MAB, SAB, ISAB, PMA) and the set
networks its benchmarks compare.

MAB(Q, K) = H + relu(Dense(H)), H = Q + Multihead(Q, K, K): the paper's block, without layer
norm by default as in its released code (`layer_norm=True` adds both of its norms).
SAB(X) = MAB(X, X) and ISAB(X) = MAB(X, MAB(I, X)) with m learned inducing points I are
permutation-equivariant; PMA(Z) = MAB(S, Z) with k learned seeds S pools a set into k vectors,
invariantly. Padding is excluded by torch's key_padding_mask; an empty set's attention (softmax
over no keys is NaN) is computed over its padding and replaced by zero, so Q passes unchanged.

Softmax attention is a weighted mean, blind to a set's size. `counting=True` adds w * (the sum
of the values), w learned (initially 1): the "additive" cardinality-preserving attention (CPA)
of Zhang & Xie 2019. Unlike the paper's released code, torch's MultiheadAttention scales by
sqrt(D / heads) and projects its output, and objects are first embedded to D features by a
Linear layer (the residual adds the block's input Q, not its projection).

Shape letters: B sets, N objects, F features, Q queries, M inducing points, K seeds (outputs),
D model width, O numbers per output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from deepsets.checks import check_choice, check_flag, is_int, positive_int
from deepsets.models.activation import dense
from deepsets.models.arguments import recorded
from deepsets.models.pooling import check_mask, pool
from deepsets.models.seeding import seeded_init

ENCODERS = ("rff", "sab", "isab")  # row-wise feed-forward, self-attention, induced self-attention
POOLINGS = ("mean", "sum", "max", "pma")  # after the encoder: a fixed pooling or attention


class MAB(nn.Module):
    """Multihead attention block: Q (B, Q, D) attends to K (B, N, D) where mask (B, N) is True.

    Arguments:
        dim: D.
        heads: attention heads (D must be a multiple of it).
        counting: add w * sum of the values to the attention (cardinality-preserving, CPA).
        layer_norm: the paper's LayerNorm after H and after the output (off in its code).
    """

    def __init__(
        self, dim: int, heads: int, *, counting: bool = False, layer_norm: bool = False
    ) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Linear(dim, dim)
        self.count_weight = nn.Parameter(torch.ones(dim)) if counting else None  # w (D,)
        self.norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)]) if layer_norm else None

    def forward(self, Q: torch.Tensor, K: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        H = Q if K.shape[1] == 0 else Q + self.attend(Q, K, mask)  # (B, Q, D)
        H = H if self.norms is None else self.norms[0](H)  # (B, Q, D)
        out = H + torch.relu(self.ff(H))  # (B, Q, D)
        return out if self.norms is None else self.norms[1](out)  # (B, Q, D)

    def attend(self, Q: torch.Tensor, K: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multihead(Q, K, K) over the real objects (B, Q, D); zero for an empty set."""
        empty = ~mask.any(dim=1)  # (B,) sets with nothing to attend to
        ignore = ~mask & ~empty.unsqueeze(1)  # (B, N): an empty set attends to its padding
        a, _ = self.attention(Q, K, K, key_padding_mask=ignore, need_weights=False)  # (B, Q, D)
        out: torch.Tensor = a.masked_fill(empty.view(-1, 1, 1), 0.0)  # (B, Q, D)
        if self.count_weight is not None:
            out = out + self.value_sum(K, mask).unsqueeze(1)  # (B, Q, D)
        return out  # an empty set's attention adds nothing to Q

    def value_sum(self, K: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """W_o (w * sum_j v_j) over the real objects (B, D): what CPA adds to the attention."""
        assert self.count_weight is not None and self.attention.in_proj_weight is not None
        D = K.shape[-1]
        W_v = self.attention.in_proj_weight[2 * D :]  # (D, D): the value projection
        b_v = self.attention.in_proj_bias[2 * D :]  # (D,)
        real = K.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, N, D): padding never leaks in
        n = mask.sum(dim=1, keepdim=True).to(K.dtype)  # (B, 1)
        v = F.linear(real.sum(dim=1), W_v) + n * b_v  # (B, D) = sum_j (W_v k_j + b_v)
        return F.linear(self.count_weight * v, self.attention.out_proj.weight)  # (B, D)


class SAB(nn.Module):
    """Set attention block SAB(X) = MAB(X, X): X (B, N, D), mask (B, N) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int, *, layer_norm: bool = False) -> None:
        super().__init__()
        self.mab = MAB(dim, heads, layer_norm=layer_norm)

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.mab(X, X, mask)  # (B, N, D)
        return out


class ISAB(nn.Module):
    """Induced set attention block ISAB_m(X) = MAB(X, MAB(I, X)), I (m, D) learned inducing
    points: X (B, N, D), mask (B, N) -> (B, N, D) in O(N m) instead of SAB's O(N^2)."""

    def __init__(self, dim: int, heads: int, inducing: int, *, layer_norm: bool = False) -> None:
        super().__init__()
        M = positive_int(inducing, "inducing")
        self.inducing = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, M, dim)))  # I
        self.mab0 = MAB(dim, heads, layer_norm=layer_norm)
        self.mab1 = MAB(dim, heads, layer_norm=layer_norm)

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if X.shape[1] == 0:
            return X  # no objects: nothing to attend from
        points = self.inducing.expand(X.shape[0], -1, -1)  # (B, M, D)
        H = self.mab0(points, X, mask)  # (B, M, D): the inducing points read the real objects
        every = torch.ones(H.shape[:2], dtype=torch.bool, device=X.device)  # (B, M)
        out: torch.Tensor = self.mab1(X, H, every)  # (B, N, D)
        return out


class PMA(nn.Module):
    """Pooling by multihead attention PMA_k(Z) = MAB(S, Z), S (k, D) learned seeds:
    Z (B, N, D), mask (B, N) -> (B, K, D), invariant to the order of the objects."""

    def __init__(
        self, dim: int, heads: int, seeds: int, *, counting: bool = False, layer_norm: bool = False
    ) -> None:
        super().__init__()
        k = positive_int(seeds, "seeds")
        self.seeds = nn.Parameter(nn.init.xavier_uniform_(torch.empty(1, k, dim)))  # S
        self.mab = MAB(dim, heads, counting=counting, layer_norm=layer_norm)

    def forward(self, Z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        S = self.seeds.expand(Z.shape[0], -1, -1)  # (B, K, D)
        out: torch.Tensor = self.mab(S, Z, mask)  # (B, K, D)
        return out


def check_width(dim: int, heads: int) -> tuple[int, int]:
    """(dim, heads) if both are positive and dim is a multiple of heads, else a ValueError."""
    dim, heads = positive_int(dim, "dim"), positive_int(heads, "heads")
    if dim % heads:
        raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
    return dim, heads


@dataclass(frozen=True)
class Layers:
    """A SetModel's layers: their width, how many, and the attention blocks' options."""

    dim: int = 64
    """D, the width of every layer and block."""
    heads: int = 4
    """Attention heads (D must be a multiple of it)."""
    blocks: int = 2
    """Linear layers of an rFF encoder, or SABs / ISABs of an attention encoder."""
    inducing: int = 16
    """m, inducing points of each ISAB."""
    decoder: int = 0
    """Hidden layers of the decoder (FC after a pooling, SAB after PMA)."""
    counting: bool = False
    """Cardinality-preserving attention in the PMA (`MAB`): it can count."""
    layer_norm: bool = False
    """The paper's layer norms in every attention block."""


def rff(sizes: list[int]) -> nn.Sequential:
    """Row-wise feed-forward: Linear layers through `sizes`, ReLU between, each object alone."""
    return nn.Sequential(*dense(sizes, "relu"))


class SetModel(nn.Module):
    """encoder -> pooling -> decoder: the set networks of the Set Transformer's benchmarks
    (Lee et al. 2019, Table 1 and section 5.3), of float sets X (B, N, F) with a mask.

    The encoder maps each object to D features: "rff" (a DeepSet's phi), "sab" or "isab" (a
    Linear(F, D), then attention blocks). Then "mean", "sum" or "max" pooling and `decoder`
    FC(D, ReLU) layers and a Linear to K * O numbers, or "pma": PMA with K seeds, `decoder`
    SABs among the K outputs, and a Linear to O each.

    Arguments:
        in_features: F, features per object.
        outputs: O, numbers per output vector.
        encoder: one of ENCODERS.
        pooling: one of POOLINGS.
        seeds: None for one output vector (the model returns (B, O)); K for K of them
            ((B, K, O)): PMA's seeds, or the decoder's output reshaped.
        layers: the layers' width D, heads, blocks, inducing points, decoder depth, counting
            attention and layer norms (`Layers`; a file keeps its fields flat).
        generator: a torch.Generator or integer seed for the initial weights.
    """

    @recorded
    def __init__(
        self,
        in_features: int,
        outputs: int = 1,
        *,
        encoder: str = "sab",
        pooling: str = "pma",
        seeds: int | None = None,
        layers: Layers = Layers(),
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(layers, Layers):
            raise TypeError(f"layers must be a Layers, got {type(layers).__name__}")
        self.in_features, width = (
            positive_int(in_features, "in_features"),
            positive_int(outputs, "outputs"),
        )
        self.encoder, self.pooling = (
            check_choice(encoder, ENCODERS, "encoder"),
            check_choice(pooling, POOLINGS, "pooling"),
        )
        self.seeds = None if seeds is None else positive_int(seeds, "seeds")
        D, H = check_width(layers.dim, layers.heads)
        L, depth = positive_int(layers.blocks, "blocks"), check_depth(layers.decoder)
        ln, counting = check_flag(layers.layer_norm, "layer_norm"), layers.counting
        if check_flag(counting, "counting") and pooling != "pma":
            raise ValueError(
                f"counting needs pooling='pma' (its attention), got pooling={pooling!r}"
            )
        K = self.seeds or 1
        self.rho: nn.Module
        with seeded_init(generator):
            self.phi = encoder_of(encoder, self.in_features, D, H, L, layers.inducing, ln)
            if pooling == "pma":
                self.pma = PMA(D, H, K, counting=counting, layer_norm=ln)
                self.sabs = nn.ModuleList(SAB(D, H, layer_norm=ln) for _ in range(depth))
                self.rho = nn.Linear(D, width)
            else:
                self.rho = rff([D] * (depth + 1) + [K * width])  # (B, D) -> (B, K * O)
        self.shape = (width,) if self.seeds is None else (K, width)  # one set's output

    def check(self, X: object, mask: object) -> torch.Tensor:
        """The (B, N) mask (all True for None), if X is a float tensor (B, N, F)."""
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
        if X.dim() != 3 or X.shape[-1] != self.in_features or not X.is_floating_point():
            raise ValueError(
                f"X must hold float features of shape (B, N, {self.in_features}), "
                f"got {X.dtype} {tuple(X.shape)}"
            )
        checked = check_mask(mask, X)  # type: ignore[arg-type]
        if checked is None:
            checked = torch.ones(X.shape[:2], dtype=torch.bool, device=X.device)  # (B, N)
        return checked

    def encode(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Every object's D features X (B, N, F) -> Z (B, N, D), equivariantly."""
        if not isinstance(self.phi, nn.ModuleList):
            Z: torch.Tensor = self.phi(X)  # (B, N, D): each object alone
            return Z
        Z = self.phi[0](X)  # (B, N, D)
        for block in self.phi[1:]:
            Z = block(Z, mask)  # (B, N, D)
        return Z

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """X (B, N, F), mask (B, N) or None -> (B, O), or (B, K, O) with K seeds."""
        valid = self.check(X, mask)  # (B, N)
        Z = self.encode(X, valid)  # (B, N, D)
        if self.pooling == "pma":
            S = self.pma(Z, valid)  # (B, K, D)
            every = torch.ones(S.shape[:2], dtype=torch.bool, device=S.device)  # (B, K)
            for sab in self.sabs:
                S = sab(S, every)  # (B, K, D)
            out: torch.Tensor = self.rho(S)  # (B, K, O)
        else:
            out = self.rho(pool(Z, valid, self.pooling))  # (B, K * O)
        return out.reshape(X.shape[0], *self.shape)  # (B, O) or (B, K, O)


def check_depth(value: object) -> int:
    """A number of decoder layers: an integer >= 0, else a ValueError."""
    if not is_int(value) or value < 0:
        raise ValueError(f"decoder must be an integer >= 0, got {value!r}")
    return int(value)


def encoder_of(
    kind: str, F: int, D: int, heads: int, blocks: int, inducing: int, layer_norm: bool
) -> nn.Module:
    """An rFF of `blocks` Linear layers F -> D (a Sequential), or Linear(F, D) followed by
    `blocks` SABs or ISABs (a ModuleList, each block taking the mask)."""
    if kind == "rff":
        return rff([F] + [D] * blocks)
    if kind == "sab":
        made: list[nn.Module] = [SAB(D, heads, layer_norm=layer_norm) for _ in range(blocks)]
    else:
        m = positive_int(inducing, "inducing")
        made = [ISAB(D, heads, m, layer_norm=layer_norm) for _ in range(blocks)]
    return nn.ModuleList([nn.Linear(F, D), *made])
