"""The supervised ceiling of the image digit sums: what the images allow, told every digit.

A classifier fitted on the single training images of the digit tasks (`tasks.py`) with their
digit labels (a set model sees only each set's sum) predicts each test image's digit; its
prediction of a set's sum is the sum of its per-image predictions. Its exact-sum accuracy on the
models' own test sets is the line a DeepSet's curve can be read against: a set of n images is
summed right about p^n of the time when p is the per-image accuracy (more, as errors can cancel).
A DeepSet's own per-image accuracy is the same number for the model: its output on sets of one
image, rounded, against the digit shown.

Shape letters: B sets, N objects (the largest set size), P = 64 pixels, M images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from deepsets.studies.digits.tasks import image_split
from deepsets.training import predict

# The classifier of the ceiling: scikit-learn's RBF support vector machine, C = 10, its default
# gamma ("scale"). Measured on the fixed split (1,133 train / 486 test), per-image test accuracy:
# this 0.9877 (480 of 486; fits in 0.03 s); a grid of C in {3, 10, 30, 100} and gamma in
# {0.01, ..., 0.1} none better (0.9650-0.9877); 1-nearest neighbour 0.9856; 3-NN 0.9815; an MLP
# (100 ReLU units) 0.9733; logistic regression (C=1) 0.9527.
SVC_C = 10.0
SVC_GAMMA = "scale"


class Classifier(Protocol):
    """Anything with scikit-learn's `predict`: pixels (M, P) -> digit labels (M,)."""

    def predict(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Ceiling:
    """The supervised ceiling on the test sets of each length."""

    classifier: str
    """What predicts each image's digit (e.g. "SVC(C=10, gamma='scale')")."""
    per_image: float
    """Its accuracy on the single test images (the test split)."""
    lengths: tuple[int, ...]
    """Numbers of digits of the test sets."""
    exact_sum: tuple[float, ...]
    """Its accuracy at each of `lengths`: the fraction of sets whose summed predictions are the
    sum."""


def fit_classifier() -> Classifier:
    """The ceiling's classifier (an RBF SVC: SVC_C, SVC_GAMMA) fitted on the training images
    with their digit labels; deterministic (an SVC draws no random numbers)."""
    from sklearn.svm import SVC  # type: ignore[import-untyped]

    pixels, labels = image_split("train")  # (M, P), (M,)
    return SVC(C=SVC_C, gamma=SVC_GAMMA).fit(pixels.numpy(), labels.numpy())  # type: ignore[no-any-return]


def describe() -> str:
    """The name of `fit_classifier`'s classifier, for a report."""
    return f"SVC(C={SVC_C:g}, gamma={SVC_GAMMA!r})"


def predict_digits(classifier: Classifier, pixels: torch.Tensor) -> torch.Tensor:
    """The classifier's digits of images (M, P), as int64 (M,)."""
    if pixels.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64)
    return torch.from_numpy(np.asarray(classifier.predict(pixels.cpu().numpy())).astype(np.int64))


def per_image_accuracy(classifier: Classifier, split: str = "test") -> float:
    """The fraction of the images of `split` ("train" or "test") whose digit it predicts."""
    pixels, labels = image_split(split)  # (M, P), (M,)
    return float((predict_digits(classifier, pixels) == labels).double().mean())


def exact_sum_accuracy(
    classifier: Classifier, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor
) -> float:
    """The fraction of the sets X (B, N, P) (real images where mask (B, N) is True) whose
    per-image predictions sum to y (B, 1)."""
    digits = torch.zeros(mask.shape, dtype=torch.int64)  # (B, N), 0 at padding
    # test sets draw their images from a few hundred: each distinct image is classified once
    images, which = torch.unique(X[mask].cpu(), dim=0, return_inverse=True)  # (U, P), (M,)
    digits[mask.cpu()] = predict_digits(classifier, images)[which]
    sums = digits.sum(dim=1)  # (B,)
    return float((sums.double() == y[:, 0].double().cpu()).double().mean())


@torch.no_grad()
def model_per_image_accuracy(model: nn.Module, split: str = "test") -> float:
    """A set model's own per-image accuracy: its output on each image of `split` as a set of
    one (mask all True), rounded, against the digit shown."""
    pixels, labels = image_split(split)  # (M, P), (M,)
    p = next(model.parameters(), None)
    device = torch.device("cpu") if p is None else p.device
    dtype = torch.float32 if p is None or not p.is_floating_point() else p.dtype
    X = pixels.to(device, dtype).unsqueeze(1)  # (M, 1, P)
    mask = torch.ones(X.shape[:2], dtype=torch.bool, device=device)  # (M, 1)
    values = predict(model, X, mask)  # (M, 1)
    return float((values[:, 0].round().cpu() == labels.to(values.dtype)).double().mean())
