"""The digit-sum tasks: sums against a plain loop, masks, sizes, seeds, disjoint image splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets.studies.digits.tasks import (
    DIGITS,
    PIXEL_MAX,
    TEST_FRACTION,
    digit_sum,
    image_digit_sum,
    image_split,
)


def test_text_sums_are_the_sums_of_the_unmasked_digits():
    X, mask, y = digit_sum(300, (1, 10), generator=0)
    assert X.shape == (300, 10, 1) and X.dtype == torch.int64
    assert mask.shape == (300, 10) and mask.dtype == torch.bool
    assert y.shape == (300, 1) and y.dtype == torch.float32
    for x, m, s in zip(X[..., 0].tolist(), mask.tolist(), y[:, 0].tolist(), strict=True):
        total = 0
        for digit, real in zip(x, m, strict=True):
            if real:
                assert 1 <= digit <= 9
                total += digit
            else:
                assert digit == 0  # padding
        assert s == total


@pytest.mark.parametrize("sizes", [(1, 10), (5, 5), (0, 3), (100, 100)])
def test_set_sizes_lie_in_the_range_and_real_objects_come_first(sizes):
    X, mask, y = digit_sum(2000, sizes, generator=1)
    n = mask.sum(dim=1)
    assert X.shape[1] == sizes[1]
    assert set(n.tolist()) == set(range(sizes[0], sizes[1] + 1))  # every size drawn
    expected = torch.arange(sizes[1]).unsqueeze(0) < n.unsqueeze(1)
    assert torch.equal(mask, expected)


def test_digits_are_uniform_over_1_to_9():
    X, mask, _ = digit_sum(20_000, (10, 10), generator=2)
    counts = np.bincount(X[..., 0][mask].numpy(), minlength=10)
    assert counts[0] == 0
    share = counts[1:] / counts.sum()
    assert np.abs(share - 1 / 9).max() < 0.01  # 200k draws: sd of a share ~0.0007


def test_same_seed_same_sets_and_different_seed_different_sets():
    a, b, c = (digit_sum(50, generator=s) for s in (3, 3, 4))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_the_image_splits_are_disjoint_and_cover_the_digits_1_to_9():
    from sklearn.datasets import load_digits

    data = load_digits()  # bundled with scikit-learn: loads without a network
    train_pixels, train_labels = image_split("train")
    test_pixels, test_labels = image_split("test")
    keep = np.isin(data.target, DIGITS)
    assert len(train_labels) + len(test_labels) == keep.sum()
    assert set(train_labels.tolist()) == set(test_labels.tolist()) == set(DIGITS)
    assert len(test_labels) == pytest.approx(TEST_FRACTION * keep.sum(), abs=9)
    # Each image is in exactly one split: match pixels rows back to the dataset's rows.
    rows = {tuple(r): i for i, r in enumerate(data.data[keep] / PIXEL_MAX)}
    train_rows = {rows[tuple(r)] for r in train_pixels.double().numpy()}
    test_rows = {rows[tuple(r)] for r in test_pixels.double().numpy()}
    assert not train_rows & test_rows
    assert len(train_rows | test_rows) == len(rows)


def test_image_sums_are_the_sums_of_the_labels_of_the_images_shown():
    pixels, labels = image_split("test")
    X, mask, y = image_digit_sum(200, (0, 6), split="test", generator=5)
    assert X.shape == (200, 6, 64) and X.dtype == torch.float32
    assert float(X.min()) >= 0 and float(X.max()) <= 1
    for x, m, s in zip(X, mask, y[:, 0].tolist(), strict=True):
        total = 0
        for image, real in zip(x, m, strict=True):
            if real:
                match = (pixels == image).all(dim=1).nonzero()[:, 0]
                assert len(match) >= 1  # a test image
                assert len(set(labels[match].tolist())) == 1
                total += int(labels[match[0]])
            else:
                assert not image.any()  # padding is zero
        assert s == total


def test_image_split_is_fixed_and_the_draws_follow_the_seed():
    a, b = image_digit_sum(20, split="train", generator=7), image_digit_sum(20, generator=7)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: digit_sum(0, generator=0), "n_sets"),
        (lambda: digit_sum(5, (3, 2), generator=0), "sizes"),
        (lambda: digit_sum(5, (1,), generator=0), "sizes"),
        (lambda: digit_sum(5, (-1, 3), generator=0), "sizes"),
        (lambda: image_digit_sum(5, split="valid", generator=0), "split"),
        (lambda: image_digit_sum(5, split=["test"], generator=0), "split"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_bad_generator_is_refused():
    with pytest.raises(TypeError, match="generator"):
        digit_sum(5, generator="zero")  # type: ignore[arg-type]
