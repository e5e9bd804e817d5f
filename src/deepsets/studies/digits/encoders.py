"""The digit study's encoders and head: each object (a token or an 8x8 image) -> E features, on
its own, and the digit-value head that makes phi(x) a distribution over 1..9.

`DigitEncoder` embeds tokens (the paper's Embedding(10, 100)) or passes pixels through a ReLU MLP.
`ConvEncoder` is the image DeepSet's phi: two 3x3 convolutions with ReLU and 2x2 max-pooling, then
a ReLU layer; padding is not computed (with a mask), or computed once (all-zero images, without).
`DigitHead` ends phi in a softmax over the nine digits, so the pooled sum is the expected count of
every digit, and `DigitValues` is the fixed rho that turns those counts into the sum. Why these
choices, with their measurements: docs/studies/digits.md.

Shape letters: B sets, N objects, F features, P = 64 pixels, E encoded features, D = 9 digit
values.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.checks import positive_int, positive_ints
from deepsets.models.arguments import recorded
from deepsets.models.pooling import check_mask
from deepsets.models.seeding import seeded_init
from deepsets.studies.digits.tasks import DIGITS, PIXELS, SIDE
from deepsets.weights import register

VOCABULARY = 10  # tokens 0..9: the digits, 0 also standing for padding


class DigitEncoder(nn.Module):
    """Each object -> E features: Embedding(VOCABULARY, E) of tokens (in_features=None), or
    an MLP F -> E -> E with ReLUs of pixels (in_features=F)."""

    @recorded
    def __init__(self, width: int, in_features: int | None = None) -> None:
        super().__init__()
        self.width = positive_int(width, "width")
        self.in_features = None if in_features is None else positive_int(in_features, "in_features")
        self.net: nn.Module
        if self.in_features is None:
            self.net = nn.Embedding(VOCABULARY, self.width)
        else:
            E = self.width
            self.net = nn.Sequential(
                nn.Linear(self.in_features, E), nn.ReLU(), nn.Linear(E, E), nn.ReLU()
            )

    def check(self, X: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
        """X as (B, N, 1) tokens or (B, N, F) floats, and a (B, N) mask (all True for None)."""
        X = self.check_input(X)
        checked = check_mask(mask, X)  # type: ignore[arg-type]
        if checked is None:
            checked = torch.ones(X.shape[:2], dtype=torch.bool, device=X.device)  # (B, N)
        return X, checked

    def check_input(self, X: object) -> torch.Tensor:
        """X as (B, N, 1) digit tokens (from (B, N, 1) or (B, N)) or (B, N, F) floats, or a
        clear error."""
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
        if self.in_features is None:
            if X.dim() == 2:
                X = X.unsqueeze(-1)
            if X.dim() != 3 or X.shape[-1] != 1 or X.dtype != torch.int64:
                raise ValueError(
                    "X must hold int64 digit tokens of shape (B, N, 1) or (B, N), "
                    f"got {X.dtype} {tuple(X.shape)}"
                )
            if bool(((X < 0) | (X >= VOCABULARY)).any()):
                raise ValueError(f"X's tokens must be digits 0..{VOCABULARY - 1}")
        elif X.dim() != 3 or X.shape[-1] != self.in_features or not X.is_floating_point():
            raise ValueError(
                f"X must hold float features of shape (B, N, {self.in_features}), "
                f"got {X.dtype} {tuple(X.shape)}"
            )
        return X

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X (B, N, 1) or (B, N) tokens, or (B, N, F) pixels -> (B, N, E); checked first."""
        X = self.check_input(X)
        if self.in_features is None:
            out: torch.Tensor = self.net(X.squeeze(-1))  # (B, N, E)
        else:
            out = self.net(X)  # (B, N, E)
        return out


class ConvEncoder(nn.Module):
    """Each 8x8 image (a row of P = 64 pixels) -> E features, independently of the others.

    Arguments:
        width: E, the features of each image.
        channels: (C1, C2), the output channels of the two 3x3 convolutions.
        generator: a torch.Generator or integer seed for the initial weights.
    """

    @recorded
    def __init__(
        self,
        width: int = 64,
        channels: tuple[int, int] = (16, 32),
        *,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self.width = positive_int(width, "width")
        if not isinstance(channels, tuple | list) or len(channels) != 2:
            raise ValueError(
                f"channels must be a pair (C1, C2) of positive integers, got {channels!r}"
            )
        c1, c2 = positive_ints(channels, "channels")
        self.channels = (c1, c2)
        self.in_features = PIXELS
        with seeded_init(generator):
            self.net = nn.Sequential(
                nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (M, C1, 4, 4)
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (M, C2, 2, 2)
                nn.Flatten(), nn.Linear(c2 * (SIDE // 4) ** 2, self.width), nn.ReLU(),
            )  # fmt: skip

    def check(self, X: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
        """X as (B, N, P) floats and a (B, N) mask (all True for None), else a clear error."""
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
        if X.dim() != 3 or X.shape[-1] != PIXELS or not X.is_floating_point():
            raise ValueError(
                f"X must hold float pixels of shape (B, N, {PIXELS}), "
                f"got {X.dtype} {tuple(X.shape)}"
            )
        checked = check_mask(mask, X)  # type: ignore[arg-type]
        if checked is None:
            checked = torch.ones(X.shape[:2], dtype=torch.bool, device=X.device)  # (B, N)
        return X, checked

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """X (B, N, P) -> (B, N, E); with a mask (B, N), padding objects get 0 (not computed).
        Without a mask the all-zero images are computed once, as one image of zeros."""
        X, _ = self.check(X, mask)
        B, N, _ = X.shape
        ink = X.ne(0).any(dim=-1)  # (B, N): False for an all-zero image
        compute = ink if mask is None else ink & mask  # (B, N)
        real = self.net(X[compute].reshape(-1, 1, SIDE, SIDE))  # (M, E), M images with ink
        blank = ~ink if mask is None else ~ink & mask  # (B, N): computed once, as net(0)
        out = real.new_zeros(B, N, self.width)  # (B, N, E)
        if bool(blank.any()):
            zero = self.net(X.new_zeros(1, 1, SIDE, SIDE))  # (1, E)
            out = torch.where(blank.unsqueeze(-1), zero, out)  # (B, N, E)
        scattered: torch.Tensor = out.masked_scatter(compute.unsqueeze(-1), real)
        return scattered


class DigitHead(nn.Module):
    """E features -> a distribution over the D = 9 digit values: Linear(E, D) and a softmax."""

    @recorded
    def __init__(self, width: int, *, generator: torch.Generator | int | None = None) -> None:
        super().__init__()
        with seeded_init(generator):
            self.linear = nn.Linear(positive_int(width, "width"), len(DIGITS))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h (..., E) -> probabilities (..., D) of the digits 1..9."""
        return torch.softmax(self.linear(h), dim=-1)


class DigitValues(nn.Module):
    """rho of the digit sum: expected digit counts (B, D) -> their sum sum_d d * count_d (B, 1).
    Fixed, not trained: the values of the digits are known."""

    @recorded
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("values", torch.tensor(DIGITS, dtype=torch.float32))  # (D,)

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        """counts (B, D) -> (B, 1)."""
        values: torch.Tensor = self.values  # type: ignore[assignment]
        return (counts @ values.to(counts.dtype)).unsqueeze(-1)


register(DigitEncoder, ConvEncoder, DigitHead, DigitValues, part=True)  # a saved DeepSet's phi, rho
