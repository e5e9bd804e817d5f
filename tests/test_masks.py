"""Sets of varying size: make_padded_data, and DeepSet.forward(X, mask) pooling only real objects.

Shape letters: B sets, N objects (padded), F = 1 feature.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import deepsets as ds

RULE = {0: (3, 1 / 3), 1: (5, 1 / 5)}  # class -> (how many nonzero objects, their value)


@pytest.fixture(scope="module")
def padded():
    return ds.make_padded_data(2000, (5, 12), generator=7)


def true_sizes(mask: torch.Tensor) -> torch.Tensor:
    return mask.sum(dim=1)  # (B,)


def test_shapes_and_dtypes(padded):
    X, y, mask = padded
    assert X.shape == (2000, 12, 1) and X.dtype == torch.float32
    assert y.shape == (2000, 1) and y.dtype == torch.float32
    assert mask.shape == (2000, 12) and mask.dtype == torch.bool


def test_mask_marks_a_prefix_of_true_size_within_lo_hi(padded):
    _, _, mask = padded
    n = true_sizes(mask)
    assert torch.equal(mask, torch.arange(12) < n.unsqueeze(-1)), "real objects come first"
    assert int(n.min()) >= 5 and int(n.max()) <= 12
    assert set(n.tolist()) == set(range(5, 13)), "every size in [lo, hi] occurs"
    counts = torch.bincount(n, minlength=13)[5:].double()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.04, "sizes are uniform on [lo, hi]"


def test_padding_is_exactly_zero(padded):
    X, _, mask = padded
    assert torch.equal(X[~mask], torch.zeros_like(X[~mask]))


def test_each_real_part_obeys_the_class_rule_exactly(padded):
    X, y, mask = padded
    for x, label, m in zip(X[:, :, 0], y[:, 0], mask, strict=True):
        count, value = RULE[int(label)]
        real = x[m]
        nonzero = real[real != 0]
        assert len(nonzero) == count
        assert torch.equal(nonzero, torch.full((count,), value, dtype=torch.float32))


def test_nonzero_objects_sit_anywhere_among_the_real_ones(padded):
    """Positions are uniform over the real slots: the last one is nonzero count/n of the time."""
    X, y, mask = padded
    n = true_sizes(mask)
    last = X[torch.arange(len(n)), n - 1, 0] != 0  # (B,) is the last real object nonzero?
    expected = torch.where(y[:, 0] == 1, 5.0, 3.0) / n  # (B,) its probability
    assert abs(last.double().mean() - expected.double().mean()) < 0.04
    first = (X[:, 0, 0] != 0).double().mean()
    assert abs(first - expected.double().mean()) < 0.04


def test_classes_are_balanced(padded):
    _, y, _ = padded
    assert int(y.sum()) == 1000
    assert set(y[:, 0].tolist()) == {0.0, 1.0}


def test_every_set_sums_to_one(padded):
    X, _, _ = padded
    torch.testing.assert_close(X.sum(dim=(1, 2)), torch.ones(2000))


def test_reproducible_with_a_seed_and_different_across_seeds():
    a = ds.make_padded_data(64, (5, 9), generator=3)
    b = ds.make_padded_data(64, (5, 9), generator=3)
    c = ds.make_padded_data(64, (5, 9), generator=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(torch.equal(u, v) for u, v in zip(a, c, strict=True))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    d, e = (
        ds.make_padded_data(64, (5, 9), generator=g1),
        ds.make_padded_data(64, (5, 9), generator=g2),
    )
    assert all(torch.equal(u, v) for u, v in zip(d, e, strict=True))


def test_a_single_size_gives_a_full_mask():
    X, y, mask = ds.make_padded_data(10, (7, 7), generator=0)
    assert X.shape == (10, 7, 1) and bool(mask.all())


@pytest.mark.parametrize(
    ("sizes", "error", "match"),
    [
        ((9, 6), ValueError, r"lo <= hi, got \(9, 6\)"),
        ((4, 10), ValueError, r"sizes\[0\] must be at least 5.*got 4"),
        ((5, 3), ValueError, r"sizes\[1\] must be at least 5.*got 3"),
        ((0, 0), ValueError, "must be at least 5"),
        ((5.0, 10), ValueError, r"sizes\[0\] must be an integer"),
        ((5, True), ValueError, r"sizes\[1\] must be an integer"),
        (10, ValueError, r"sizes must be a pair \(lo, hi\), got 10"),
        ((5, 6, 7), ValueError, "sizes must be a pair"),
    ],
)
def test_bad_sizes_are_rejected_with_clear_errors(sizes, error, match):
    with pytest.raises(error, match=match):
        ds.make_padded_data(10, sizes)


@pytest.mark.parametrize("N", [0, 7, -2])
def test_bad_number_of_sets_is_rejected(N):
    with pytest.raises(ValueError, match="positive even integer"):
        ds.make_padded_data(N, (5, 10))


# --- DeepSet.forward(X, mask) ---------------------------------------------------------------------


@st.composite
def ragged_sets(draw):
    """A list of sets of random sizes (0 allowed), their values, and how much extra padding."""
    sizes = draw(st.lists(st.integers(0, 8), min_size=1, max_size=5))
    extra = draw(st.integers(0, 4))  # padding beyond the largest set
    seed = draw(st.integers(0, 2**31 - 1))
    fill = draw(st.sampled_from([0.0, 1.0, -3.0, 1e6]))  # what the padded slots hold
    g = torch.Generator().manual_seed(seed)
    sets = [torch.rand(n, 1, generator=g, dtype=torch.float64) for n in sizes]
    return sets, extra, fill


def pad(sets: list[torch.Tensor], extra: int, fill: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack sets (n_b, 1) into X (B, N, 1), `fill` beyond each size, and a mask (B, N)."""
    N = max(len(s) for s in sets) + extra
    X = torch.full((len(sets), N, 1), fill, dtype=torch.float64)
    mask = torch.zeros(len(sets), N, dtype=torch.bool)
    for b, s in enumerate(sets):
        X[b, : len(s)] = s
        mask[b, : len(s)] = True
    return X, mask


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@pytest.mark.parametrize("latent", [1, 3])
@settings(max_examples=15, deadline=None)
@given(data=ragged_sets())
def test_padded_masked_batch_equals_each_set_alone(pooling, latent, data):
    sets, extra, fill = data
    torch.manual_seed(latent)
    model = ds.DeepSet(latent=latent, pooling=pooling).double().eval()
    X, mask = pad(sets, extra, fill)
    with torch.no_grad():
        batch = model(X, mask)  # (B, 1)
        alone = torch.cat([model(s.unsqueeze(0)) for s in sets])  # each (1, n_b, 1) -> (B, 1)
    torch.testing.assert_close(batch, alone, rtol=1e-12, atol=1e-12)


def test_without_the_mask_padding_does_change_the_output():
    """The comparison above can fail: ignoring the mask lets nonzero padding in."""
    torch.manual_seed(0)
    model = ds.DeepSet().double().eval()
    X, mask = pad([torch.rand(3, 1, dtype=torch.float64)], extra=4, fill=1.0)
    with torch.no_grad():
        assert (model(X) - model(X, mask)).abs().max() > 1e-6


def test_empty_set_gives_rho_of_zero():
    model = ds.DeepSet(latent=2, pooling="max").eval()
    X = torch.full((2, 4, 1), 5.0)
    mask = torch.tensor([[False] * 4, [True, False, False, False]])
    with torch.no_grad():
        out = model(X, mask)
        torch.testing.assert_close(out[0], model.rho(torch.zeros(1, 2))[0])
        torch.testing.assert_close(out[0:1], model(torch.zeros(1, 0, 1)))


def test_all_true_mask_equals_no_mask():
    X, y = ds.make_data(20, generator=0)
    for pooling in ds.POOLINGS:
        model = ds.DeepSet(pooling=pooling).eval()
        with torch.no_grad():
            torch.testing.assert_close(model(X, torch.ones(20, 10, dtype=torch.bool)), model(X))


def test_an_affine_phi_cannot_tell_the_padded_classes_apart():
    """Sum of a phi(x_i) + b over n real objects is a * 1 + b * n for both classes: only n shows."""
    X, y, mask = ds.make_padded_data(400, (5, 8), generator=1)
    torch.manual_seed(0)
    model = ds.DeepSet(activation=None).double().eval()
    with torch.no_grad():
        out = model(X.double(), mask)[:, 0]  # (B,)
    n = mask.sum(dim=1)
    for size in range(5, 9):
        same_size = out[n == size]
        assert len(same_size) > 10
        # 1e-9, not 0: the data are float32, and 3 * fl(1/3) != 5 * fl(1/5) in the last bit
        assert (same_size - same_size[0]).abs().max() < 1e-9, "both classes look identical"
    assert (out[n == 5][0] - out[n == 8][0]).abs() > 1e-6, "but the set size does show"


def test_evaluate_accepts_a_mask():
    X, y, mask = ds.make_padded_data(50 * 2, (5, 8), generator=2)
    model = ds.DeepSet()
    with_mask = ds.evaluate(model, X, y, mask)
    assert 0 <= with_mask["accuracy"] <= 1 and with_mask["loss"] > 0
    with torch.no_grad():
        p = model(X, mask)
    expected = torch.nn.functional.binary_cross_entropy(p, y).item()
    assert with_mask["loss"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (torch.ones(4, 9, dtype=torch.bool), ValueError, r"\(B, N\) = \(4, 10\).*got \(4, 9\)"),
        (torch.ones(4, 10, 1, dtype=torch.bool), ValueError, r"got \(4, 10, 1\)"),
        (torch.ones(3, 10, dtype=torch.bool), ValueError, r"got \(3, 10\)"),
        (torch.ones(4, 10), TypeError, "mask must be a boolean tensor"),
        (torch.ones(4, 10, dtype=torch.long), TypeError, "mask must be a boolean tensor"),
        ([[True] * 10] * 4, TypeError, "mask must be a boolean tensor"),
    ],
)
def test_bad_masks_give_clear_errors(mask, error, match):
    X = torch.zeros(4, 10, 1)
    with pytest.raises(error, match=match):
        ds.DeepSet()(X, mask)


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@settings(max_examples=15, deadline=None)
@given(data=ragged_sets(), slots_seed=st.integers(0, 2**31 - 1))
def test_real_objects_at_scattered_slots_equal_each_set_alone(pooling, data, slots_seed):
    """The mask need not be a prefix: real objects anywhere among the N slots, padding between."""
    sets, extra, fill = data
    torch.manual_seed(2)
    model = ds.DeepSet(latent=2, pooling=pooling).double().eval()
    X, mask = pad(sets, extra, fill)  # (B, N, 1), (B, N) with real objects first
    g = torch.Generator().manual_seed(slots_seed)
    for b in range(len(sets)):  # a different shuffle of the slots for every set
        perm = torch.randperm(X.shape[1], generator=g)
        X[b], mask[b] = X[b, perm], mask[b, perm]
    with torch.no_grad():
        batch = model(X, mask)  # (B, 1)
        alone = torch.cat([model(s.unsqueeze(0)) for s in sets])  # (B, 1)
    torch.testing.assert_close(batch, alone, rtol=1e-12, atol=1e-12)
