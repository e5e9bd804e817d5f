"""The shared checks' contracts (`deepsets.checks`): set sizes and sets, each refusal naming the
argument; the callers' own refusals are tested with them (data, invariance, plots, sdm)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets.checks import check_sets, check_sizes


@pytest.mark.parametrize(
    "sizes, least, expected",
    [((0, 1), 0, (0, 1)), ((5, 5), 5, (5, 5)), ([np.int64(2), 9], 0, (2, 9)), ((1, 3), 1, (1, 3))],
)
def test_check_sizes_returns_the_pair_as_ints(sizes, least, expected):
    got = check_sizes(sizes, "sizes", least)
    assert got == expected and all(type(n) is int for n in got)


@pytest.mark.parametrize(
    "sizes, least, message",
    [
        ((0, 0), 0, r"s\[1\] must be a positive integer, got 0"),  # a set holds something
        ((4, 9), 5, r"s\[0\] must be at least 5, got 4"),
        ((5, 4), 5, r"s\[1\] must be at least 5, got 4"),
        ((3, 2), 0, r"s must satisfy lo <= hi, got \(3, 2\)"),
        ((True, 2), 0, r"s\[0\] must be an integer, got True"),
        ((1, 2.0), 0, r"s\[1\] must be an integer, got 2.0"),
        ((1, 2, 3), 0, r"s must be a pair \(lo, hi\)"),
        ("1,2", 0, r"s must be a pair \(lo, hi\)"),
    ],
)
def test_check_sizes_refuses_naming_the_entry(sizes, least, message):
    with pytest.raises(ValueError, match=message):
        check_sizes(sizes, "s", least)


X = torch.zeros(4, 6, 2)  # (B, N, F)
NAN = X.clone()
NAN[1, 2, 1] = float("nan")


def test_check_sets_passes_sets_with_labels_and_a_mask():
    assert check_sets(X, torch.zeros(4, 1), torch.ones(4, 6, dtype=torch.bool)) is X
    assert check_sets(X.long()) is not None  # integer tokens (digit sums) pass


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((torch.zeros(4, 6),), ValueError, r"X must be a tensor of shape \(B, N, F\)"),
        (([[[0.0]]],), ValueError, "X must be a tensor of shape"),
        ((torch.zeros(0, 6, 2),), ValueError, r"at least one set \(B >= 1\)"),
        ((X.bool(),), TypeError, "real numbers or integer tokens"),
        ((NAN,), ValueError, r"X must hold finite numbers, got nan at X\[1, 2, 1\]"),
        ((X, torch.zeros(3, 1)), ValueError, r"y must be a tensor \(4, \.\.\.\), one row per set"),
        ((X, torch.full((4, 1), np.inf)), ValueError, "y must hold finite numbers"),
        ((X, None, torch.ones(4, 5, dtype=torch.bool)), ValueError, r"mask .* \(4, 6\)"),
        ((X, None, torch.ones(4, 6)), ValueError, "mask must be a boolean tensor"),
    ],
)
def test_check_sets_refuses_naming_the_argument(args, error, message):
    with pytest.raises(error, match=message):
        check_sets(*args)
