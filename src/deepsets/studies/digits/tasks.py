"""Sums of digits (Zaheer et al. 2017, section 4.1.1): sets of digits, as text or as images.

A set holds between `sizes[0]` and `sizes[1]` digits from 1 to 9; its target is their sum.
Sets are padded to `sizes[1]` objects, with a mask (B, N) that is True for real digits. As in
the paper, the digits are 1-9 for both tasks: the image task draws only images of 1-9 from
scikit-learn's bundled 8x8 handwritten digits (`load_digits`, shipped with scikit-learn: nothing
is downloaded), split once, by a fixed seed, into disjoint train and test images.

Shape letters: B sets, N objects (the largest set size), P = 64 pixels.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from deepsets.checks import as_generator, check_memory, check_sizes, positive_int

SIDE = 8  # an image is SIDE x SIDE pixels, row by row
PIXELS = SIDE**2  # P: an 8x8 image, flattened
IMAGE_BYTES = PIXELS * 4 + 9  # per object of an image set: float32 pixels, index and mask

DIGITS = tuple(range(1, 10))  # the digits a set holds (0 would not change a sum)
TEXT_BYTES = 9  # per object of a text set: its int64 digit and its mask
PIXEL_MAX = 16.0  # load_digits' pixels are counts 0..16; divided by this they lie in [0, 1]
SPLIT_SEED = 2017  # the fixed seed of the train/test split of the images (the paper's year)
TEST_FRACTION = 0.3  # share of the images (of each digit) kept for testing
SPLITS = ("train", "test")


def digit_sum(
    n_sets: int,
    sizes: tuple[int, int] = (1, 10),
    *,
    generator: torch.Generator | int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Text digit sums: `n_sets` sets of digits 1-9, each of a uniform size in [lo, hi].

    Arguments:
        n_sets: B, the number of sets.
        sizes: (lo, hi), the smallest and largest number of digits in a set (both included).
        generator: a torch.Generator or integer seed; the same seed gives the same sets.

    Returns:
        X (B, N, 1) int64 digits (0 at padding), mask (B, N) bool, y (B, 1) float32 sums.
    """
    B, g = positive_int(n_sets, "n_sets"), as_generator(generator)
    lo, hi = check_sizes(sizes)
    check_memory(B * hi * TEXT_BYTES, f"digit_sum(n_sets={B}, sizes={sizes!r})")
    digits = torch.randint(1, 10, (B, hi), generator=g)  # (B, N)
    mask = _mask(B, lo, hi, g)  # (B, N)
    X = torch.where(mask, digits, 0)  # (B, N)
    y = X.sum(dim=1, keepdim=True).float()  # (B, 1)
    return X.unsqueeze(-1), mask, y


def _mask(B: int, lo: int, hi: int, g: torch.Generator) -> torch.Tensor:
    """(B, N) True at the first n_b positions, n_b uniform in [lo, hi]."""
    n = torch.randint(lo, hi + 1, (B, 1), generator=g)  # (B, 1) set sizes
    return torch.arange(hi).unsqueeze(0) < n  # (B, N)


@functools.cache
def _images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits 1-9: pixels (M, P) float32 in [0, 1], labels (M,) int64."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]  # bundled: no download

    data = load_digits()
    keep = np.isin(data.target, DIGITS)
    pixels = (data.data[keep] / PIXEL_MAX).astype(np.float32)  # (M, P)
    return pixels, data.target[keep].astype(np.int64)


@functools.cache
def image_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of one split: pixels (M, P) float32, labels (M,) int64 (the digit shown).
    Cached and shared: read them, do not modify them.

    Stratified by digit: a fixed permutation (SPLIT_SEED) of each digit's images puts the first
    TEST_FRACTION of them in "test" and the rest in "train"; no image is in both.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pixels, labels = _images()
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = []
    for d in DIGITS:
        idx = rng.permutation(np.flatnonzero(labels == d))
        n_test = round(TEST_FRACTION * len(idx))
        chosen.append(idx[:n_test] if split == "test" else idx[n_test:])
    rows = np.sort(np.concatenate(chosen))
    return torch.from_numpy(pixels[rows]), torch.from_numpy(labels[rows])


def image_digit_sum(
    n_sets: int,
    sizes: tuple[int, int] = (1, 10),
    *,
    split: str = "train",
    generator: torch.Generator | int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Image digit sums: sets of 8x8 images of digits 1-9 drawn (with replacement) from `split`.

    Arguments:
        n_sets, sizes, generator: as in `digit_sum`.
        split: "train" or "test", two disjoint sets of images (`image_split`).

    Returns:
        X (B, N, P) float32 pixels in [0, 1] (0 at padding), mask (B, N), y (B, 1) float32 sums
        of the digits the images show.
    """
    B, g = positive_int(n_sets, "n_sets"), as_generator(generator)
    lo, hi = check_sizes(sizes)
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    check_memory(B * hi * IMAGE_BYTES, f"image_digit_sum(n_sets={B}, sizes={sizes!r})")
    pixels, labels = image_split(split)  # (M, P), (M,)
    pick = torch.randint(0, len(labels), (B, hi), generator=g)  # (B, N)
    mask = _mask(B, lo, hi, g)  # (B, N)
    X = pixels[pick].mul_(mask.unsqueeze(-1))  # (B, N, P), in place: images take the memory
    y = torch.where(mask, labels[pick], 0).sum(dim=1, keepdim=True).float()  # (B, 1)
    return X, mask, y


def shift_images(
    X: torch.Tensor, max_shift: int, *, generator: torch.Generator | int | None
) -> torch.Tensor:
    """Each image of X (..., P) moved by its own random whole-pixel shift, zeros shifted in.

    An image's shift (dy, dx) is drawn uniformly from [-max_shift, max_shift]^2 (by `generator`,
    two draws per image, in X's order): its pixel (r, c) moves to (r + dy, c + dx), and pixels
    moved past the border are lost. Padding (all-zero images) stays all zero. A new tensor;
    max_shift=0 returns a copy of X.

    Arguments:
        X: float pixels (..., P), e.g. sets (B, N, P) from `image_digit_sum`.
        max_shift: the largest shift in either direction, 0 <= max_shift < SIDE.
        generator: a torch.Generator or integer seed; the same seed gives the same shifts.
    """
    if not isinstance(X, torch.Tensor) or not X.is_floating_point() or X.dim() < 1:
        what = f"{X.dtype} {tuple(X.shape)}" if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be float pixels of shape (..., {PIXELS}), got {what}")
    if X.shape[-1] != PIXELS:
        raise ValueError(f"X must be float pixels of shape (..., {PIXELS}), got {tuple(X.shape)}")
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift < SIDE:
        raise ValueError(f"max_shift must be an integer in [0, {SIDE - 1}], got {max_shift!r}")
    g, s = as_generator(generator), max_shift
    images = X.reshape(-1, SIDE, SIDE)  # (M, SIDE, SIDE)
    check_memory(images.numel() * X.element_size() * 3, f"shift_images of {len(images)} images")
    d = torch.randint(-s, s + 1, (len(images), 2), generator=g).to(X.device)  # (M, 2): dy, dx
    padded = torch.nn.functional.pad(images, (s, s, s, s))  # (M, SIDE + 2s, SIDE + 2s)
    out = torch.empty_like(images)  # (M, SIDE, SIDE)
    for dy in range(-s, s + 1):  # one slice per shift: no index tensor per pixel
        for dx in range(-s, s + 1):
            rows = torch.nonzero((d[:, 0] == dy) & (d[:, 1] == dx)).squeeze(1)  # (m,)
            # out[r, c] = in[r - dy, c - dx] = padded[r - dy + s, c - dx + s]
            window = padded[:, s - dy : s - dy + SIDE, s - dx : s - dx + SIDE]
            out[rows] = window[rows]
    return out.reshape(X.shape)
