"""The convolutional image encoder, its digit head and rho, and the shifts of the images:
shapes, masks, seeded weights, the shift against a plain loop, invariance of a DeepSet on them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepsets.models.pooling import pool
from deepsets.studies.digits.encoders import ConvEncoder, DigitHead, DigitValues
from deepsets.studies.digits.tasks import PIXELS, SIDE, image_digit_sum, shift_images


def plain_shift(X: torch.Tensor, max_shift: int, seed: int) -> torch.Tensor:
    """The reference: the same draws as shift_images, then pixel by pixel."""
    images = X.reshape(-1, SIDE, SIDE)
    d = torch.randint(
        -max_shift, max_shift + 1, (len(images), 2), generator=torch.Generator().manual_seed(seed)
    )
    out = torch.zeros_like(images)
    for m in range(len(images)):
        dy, dx = int(d[m, 0]), int(d[m, 1])
        for r in range(SIDE):
            for c in range(SIDE):
                if 0 <= r - dy < SIDE and 0 <= c - dx < SIDE:
                    out[m, r, c] = images[m, r - dy, c - dx]
    return out.reshape(X.shape)


@pytest.mark.parametrize("max_shift", [0, 1, 2, 7])
def test_shift_images_matches_a_plain_loop(max_shift):
    X, _, _ = image_digit_sum(12, (1, 4), split="train", generator=3)  # (B, N, P)
    assert torch.equal(shift_images(X, max_shift, generator=11), plain_shift(X, max_shift, 11))


def test_shifts_are_seeded_cover_every_offset_and_keep_padding_zero():
    X, mask, _ = image_digit_sum(400, (1, 10), split="train", generator=4)
    a, b, c = (shift_images(X, 1, generator=s) for s in (5, 5, 6))
    assert a.shape == X.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert bool((a[~mask] == 0).all())
    assert torch.equal(shift_images(X, 0, generator=5), X)
    # every one of the 9 shifts is drawn: a shifted image equals X moved by exactly one of them
    images, moved = X[mask].reshape(-1, SIDE, SIDE), a[mask].reshape(-1, SIDE, SIDE)
    hits = torch.zeros(3, 3, dtype=torch.long)
    padded = nn.functional.pad(images, (1, 1, 1, 1))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            window = padded[:, 1 - dy : 1 - dy + SIDE, 1 - dx : 1 - dx + SIDE]
            hits[dy + 1, dx + 1] = (window == moved).flatten(1).all(1).sum()
    assert bool((hits > 0).all()) and int(hits.sum()) >= len(images)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.zeros(3, 10), 1), "X"),
        ((torch.zeros(3, PIXELS, dtype=torch.long), 1), "X"),
        (([0.0] * PIXELS, 1), "X"),
        ((torch.zeros(3, PIXELS), -1), "max_shift"),
        ((torch.zeros(3, PIXELS), SIDE), "max_shift"),
        ((torch.zeros(3, PIXELS), 1.0), "max_shift"),
    ],
)
def test_shift_images_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        shift_images(*args, generator=0)


def test_encoder_shapes_and_masked_objects():
    enc = ConvEncoder(24, (4, 8), generator=0)
    X, mask, _ = image_digit_sum(6, (0, 5), split="test", generator=1)
    full, masked = enc(X), enc(X, mask)
    assert full.shape == masked.shape == (6, 5, 24)
    assert torch.allclose(masked[mask], full[mask], atol=1e-6)
    assert bool((masked[~mask] == 0).all())
    alone = torch.stack(
        [enc(X[b, i].reshape(1, 1, PIXELS))[0, 0] for b in range(6) for i in range(5)]
    )
    assert torch.allclose(alone.reshape(6, 5, 24), full, atol=1e-6)  # each image on its own


def test_weights_come_from_the_generator():
    a, b, c = (ConvEncoder(16, generator=s) for s in (1, 1, 2))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    h1, h2 = DigitHead(16, generator=3), DigitHead(16, generator=3)
    assert torch.equal(h1.linear.weight, h2.linear.weight)


def test_head_gives_distributions_and_values_sum_the_digits():
    p = DigitHead(8, generator=0)(torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(0)))
    assert p.shape == (4, 3, 9) and bool((p > 0).all())
    assert torch.allclose(p.sum(-1), torch.ones(4, 3))
    counts = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0, 0, 2], [0, 0.5, 0, 0, 0, 0, 0, 0, 0]])
    assert torch.equal(DigitValues()(counts), torch.tensor([[19.0], [1.0]]))  # 1 + 2 * 9; 0.5 * 2
    assert not list(DigitValues().parameters())  # rho is fixed


class ConvDeepSet(nn.Module):
    """rho(sum_i phi(x_i)): phi = ConvEncoder + DigitHead, rho = DigitValues."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.head, self.rho = (
            ConvEncoder(16, (4, 8), generator=0),
            DigitHead(16, generator=1),
            DigitValues(),
        )

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.rho(pool(self.head(self.encoder(X, mask)), mask, "sum"))  # (B, 1)


MODEL = ConvDeepSet()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), lo=st.integers(0, 6), extra=st.integers(0, 6))
def test_a_deepset_on_the_encoder_is_permutation_invariant_with_masks(seed, lo, extra):
    X, mask, _ = image_digit_sum(8, (lo, max(1, lo + extra)), split="test", generator=seed)
    X = X + (~mask).unsqueeze(-1) * 0.7  # padding that is not blank must not count either
    g = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(X.shape[1], generator=g) for _ in range(8)])
    rows = torch.arange(8).unsqueeze(1)
    with torch.no_grad():
        out, permuted = MODEL(X, mask), MODEL(X[rows, order], mask[rows, order])
        real = MODEL(X[:, :lo], mask[:, :lo]) if lo else torch.zeros(8, 1)
    assert torch.allclose(out, permuted, atol=1e-5)
    n = mask.sum(1)
    exact = n == lo  # sets with no extra objects equal the same sets cut to their real objects
    assert torch.allclose(out[exact], real[exact], atol=1e-5)
    assert bool((out[n == 0] == 0).all())  # an empty set sums to 0


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ConvEncoder(0), "width"),
        (lambda: ConvEncoder(8, (4,)), "channels"),
        (lambda: ConvEncoder(8, (4, 0)), "channels"),
        (lambda: DigitHead(-1), "width"),
    ],
)
def test_bad_sizes_get_a_clear_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_check_names_bad_sets():
    enc = ConvEncoder(8, (2, 2), generator=0)
    with pytest.raises(TypeError, match="X"):
        enc.check([[0.0]], None)
    with pytest.raises(ValueError, match="X"):
        enc.check(torch.zeros(2, 3, 10), None)
    with pytest.raises(ValueError, match="mask"):
        enc.check(torch.zeros(2, 3, PIXELS), torch.ones(2, 4, dtype=torch.bool))
    X, mask = enc.check(torch.zeros(2, 3, PIXELS), None)
    assert bool(mask.all()) and mask.shape == (2, 3)
