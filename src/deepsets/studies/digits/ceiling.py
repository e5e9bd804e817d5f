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

from deepsets.checks import check_sets
from deepsets.studies.digits.tasks import PIXELS, SPLITS, image_split
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


def check_classifier(classifier: object) -> Classifier:
    """`classifier` if it has a callable `predict`, else a TypeError."""
    if not callable(getattr(classifier, "predict", None)):
        raise TypeError(
            "classifier must have a predict(pixels (M, 64)) -> labels (M,) method, like a "
            f"fitted scikit-learn classifier; got {type(classifier).__name__}"
        )
    return classifier  # type: ignore[return-value]


def predict_digits(classifier: Classifier, pixels: torch.Tensor) -> torch.Tensor:
    """The classifier's digits of images (M, P) as int64 (M,), checked for shape and type."""
    M = pixels.shape[0]
    if M == 0:
        return torch.zeros(0, dtype=torch.int64)
    labels = np.asarray(classifier.predict(pixels.detach().cpu().numpy()))  # (M,)
    if labels.shape != (M,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"classifier.predict must return ({M},) integer labels for {M} images, "
            f"got {labels.dtype} {labels.shape}"
        )
    return torch.from_numpy(labels.astype(np.int64))


def per_image_accuracy(classifier: object, split: str = "test") -> float:
    """The fraction of the images of `split` ("train" or "test") whose digit it predicts."""
    clf = check_classifier(classifier)
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pixels, labels = image_split(split)  # (M, P), (M,)
    return float((predict_digits(clf, pixels) == labels).double().mean())


def check_image_sets(X: object, mask: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """X (B, N, P) float pixels, mask (B, N) bool and y (B, 1) sums (`check_sets`), else a
    clear error; returns X and y."""
    if mask is None:
        raise TypeError("mask must be a boolean tensor of shape (B, N), got None")
    X = check_sets(X, y, mask)
    if X.shape[2] != PIXELS or not X.is_floating_point():
        raise ValueError(f"X must be float pixels of shape (B, N, {PIXELS}), got {X.dtype} "
                         f"{tuple(X.shape)}")  # fmt: skip
    assert isinstance(y, torch.Tensor)  # checked
    if y.shape != (X.shape[0], 1):
        raise ValueError(f"y must hold the sums, shape (B, 1) = ({X.shape[0]}, 1), got {y.shape}")
    return X, y


def exact_sum_accuracy(classifier: object, X: object, mask: object, y: object) -> float:
    """The fraction of the sets X (B, N, P) (real images where mask (B, N) is True) whose
    per-image predictions sum to y (B, 1)."""
    clf = check_classifier(classifier)
    X, y = check_image_sets(X, mask, y)
    valid: torch.Tensor = mask  # type: ignore[assignment]  # checked: (B, N) bool
    digits = torch.zeros(valid.shape, dtype=torch.int64)  # (B, N), 0 at padding
    # test sets draw their images from a few hundred: each distinct image is classified once
    # (1,000 sets of each length 5, 10, ..., 100: 103 s image by image on a busy machine)
    images, which = torch.unique(X[valid].cpu(), dim=0, return_inverse=True)  # (U, P), (M,)
    digits[valid.cpu()] = predict_digits(clf, images)[which]
    sums = digits.sum(dim=1)  # (B,)
    return float((sums.double() == y[:, 0].double().cpu()).double().mean())


def ceiling(
    test_sets: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    classifier: object | None = None,
) -> Ceiling:
    """The ceiling on test sets {length: (X, mask, y)}; default classifier: `fit_classifier()`."""
    if not isinstance(test_sets, dict) or not test_sets:
        raise ValueError(
            f"test_sets must be a non-empty dict {{length: (X, mask, y)}}, got {test_sets!r:.80}"
        )
    clf = fit_classifier() if classifier is None else check_classifier(classifier)
    lengths = tuple(sorted(test_sets))
    exact = tuple(exact_sum_accuracy(clf, *test_sets[n]) for n in lengths)
    name = describe() if classifier is None else type(classifier).__name__
    return Ceiling(name, per_image_accuracy(clf), lengths, exact)


@torch.no_grad()
def model_per_image_accuracy(model: nn.Module, split: str = "test") -> float:
    """A set model's own per-image accuracy: its output on each image of `split` as a set of
    one (mask all True), rounded, against the digit shown."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pixels, labels = image_split(split)  # (M, P), (M,)
    p = next(model.parameters(), None)
    device = torch.device("cpu") if p is None else p.device
    dtype = torch.float32 if p is None or not p.is_floating_point() else p.dtype
    X = pixels.to(device, dtype).unsqueeze(1)  # (M, 1, P)
    mask = torch.ones(X.shape[:2], dtype=torch.bool, device=device)  # (M, 1)
    values = predict(model, X, mask)  # (M, 1)
    return float((values[:, 0].round().cpu() == labels.to(values.dtype)).double().mean())
