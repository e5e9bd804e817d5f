"""The supervised ceiling: exact-sum accuracy against hand-computed cases and a plain loop,
per-image accuracy against scikit-learn's own score, a model's per-image accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepsets.studies.digits.ceiling import (
    exact_sum_accuracy,
    fit_classifier,
    model_per_image_accuracy,
    per_image_accuracy,
)
from deepsets.studies.digits.tasks import PIXEL_MAX, PIXELS, image_digit_sum, image_split


class FirstPixel:
    """A stub classifier: an image's digit is its first pixel times PIXEL_MAX."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.rint(X[:, 0] * PIXEL_MAX).astype(np.int64)


def images_showing(digits: list[list[int]], N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sets whose images FirstPixel reads as `digits`, padded to N; padding's first pixel reads
    as 9, so a classifier run on padding would change the sums."""
    X = torch.full((len(digits), N, PIXELS), 9 / PIXEL_MAX)  # (B, N, P)
    mask = torch.zeros(len(digits), N, dtype=torch.bool)  # (B, N)
    for b, row in enumerate(digits):
        for i, d in enumerate(row):
            X[b, i, 0], mask[b, i] = d / PIXEL_MAX, True
    return X, mask


def test_exact_sum_accuracy_of_a_stub_against_a_hand_computed_case():
    # predicted digits and true sums: 1+2=3 right, 4+5+9=18 vs 17 wrong, 7 right, 3+3=6 vs 5 wrong
    X, mask = images_showing([[1, 2], [4, 5, 9], [7], [3, 3]], N=3)
    y = torch.tensor([[3.0], [17.0], [7.0], [5.0]])
    assert exact_sum_accuracy(FirstPixel(), X, mask, y) == 0.5
    y_all_right = torch.tensor([[3.0], [18.0], [7.0], [6.0]])
    assert exact_sum_accuracy(FirstPixel(), X, mask, y_all_right) == 1.0


def test_an_empty_set_sums_to_zero():
    X, mask = images_showing([[], [2]], N=2)
    assert exact_sum_accuracy(FirstPixel(), X, mask, torch.tensor([[0.0], [2.0]])) == 1.0
    assert exact_sum_accuracy(FirstPixel(), X, mask, torch.tensor([[1.0], [2.0]])) == 0.5


@pytest.fixture(scope="module")
def svc():
    return fit_classifier()


def test_per_image_accuracy_is_scikit_learns_score(svc):
    for split in ("train", "test"):
        pixels, labels = image_split(split)
        assert per_image_accuracy(svc, split) == pytest.approx(
            svc.score(pixels.numpy(), labels.numpy()), abs=1e-12
        )
    assert per_image_accuracy(svc) == pytest.approx(480 / 486)  # the number ceiling.py states


def test_exact_sum_accuracy_of_the_svc_against_a_plain_loop(svc):
    X, mask, y = image_digit_sum(300, (1, 12), split="test", generator=5)
    right = 0
    for b in range(len(y)):
        images = [X[b, i].numpy() for i in range(X.shape[1]) if mask[b, i]]
        right += int(sum(int(svc.predict(im[None])[0]) for im in images) == y[b, 0])
    assert exact_sum_accuracy(svc, X, mask, y) == right / len(y)


class Lookup(nn.Module):
    """A set model that knows the test images: it outputs a single image's digit + offset."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        pixels, labels = image_split("test")
        self.pixels, self.labels, self.offset = pixels, labels.float(), offset
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert X.shape[1] == 1 and bool(mask.all())  # sets of one image
        match = (X[:, 0, None, :] == self.pixels[None]).all(-1).float().argmax(1)  # (B,)
        return (self.labels[match] + self.offset).unsqueeze(1)  # (B, 1)


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.value.expand(X.shape[0], 1)


def test_a_models_per_image_accuracy_rounds_its_value_of_each_single_image():
    assert model_per_image_accuracy(Lookup(0.4)) == 1.0
    assert model_per_image_accuracy(Lookup(-0.6)) == 0.0  # rounds to the digit below
    labels = image_split("test")[1]
    assert model_per_image_accuracy(Constant(4.8)) == float((labels == 5).double().mean())
