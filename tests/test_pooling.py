"""pool() against a plain loop; DeepSet invariance for every pooling and latent width; latent L.

Shape letters: B sets, N objects, F features, L latent features, H hidden units.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import deepsets as ds
from deepsets.models import Rho
from deepsets.models.pooling import pool

SETTINGS = settings(max_examples=30, deadline=None)


def pool_loop(h: torch.Tensor, mask: torch.Tensor | None, kind: str) -> list[list[float]]:
    """The reference: for each set and feature, reduce the real objects' values in plain Python."""
    B, N, L = h.shape
    out = []
    for b in range(B):
        row = []
        for j in range(L):
            values = [float(h[b, i, j]) for i in range(N) if mask is None or bool(mask[b, i])]
            if not values:
                row.append(0.0)  # an empty set pools to 0
            elif kind == "sum":
                row.append(math.fsum(values))
            elif kind == "mean":
                row.append(math.fsum(values) / len(values))
            else:
                row.append(max(values))
        out.append(row)
    return out


@st.composite
def batches(draw, max_sets=4, max_objects=7, max_latent=4, masked=True):
    """h (B, N, L) float64 and a mask (B, N) (or None) with a random pattern of real objects."""
    B = draw(st.integers(1, max_sets))
    N = draw(st.integers(1, max_objects))
    L = draw(st.integers(1, max_latent))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(B, N, L, generator=g, dtype=torch.float64) * 3  # (B, N, L)
    mask = torch.rand(B, N, generator=g) < draw(st.floats(0.0, 1.0)) if masked else None
    return h, mask


@pytest.mark.parametrize("kind", ds.POOLINGS)
@SETTINGS
@given(data=batches(masked=False))
def test_pool_matches_a_plain_loop_without_mask(kind, data):
    h, _ = data
    expected = torch.tensor(pool_loop(h, None, kind), dtype=torch.float64)
    got = pool(h, None, kind)
    assert got.shape == (h.shape[0], h.shape[2])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ds.POOLINGS)
@SETTINGS
@given(data=batches(masked=True))
def test_pool_matches_a_plain_loop_with_mask(kind, data):
    h, mask = data
    expected = torch.tensor(pool_loop(h, mask, kind), dtype=torch.float64)
    torch.testing.assert_close(pool(h, mask, kind), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ds.POOLINGS)
def test_pool_of_a_small_example_by_hand(kind):
    h = torch.tensor([[[1.0], [-4.0], [2.0]], [[5.0], [7.0], [-1.0]]])  # (2, 3, 1)
    mask = torch.tensor([[True, True, False], [False, True, True]])
    by_hand = {
        "sum": ([-1.0, 11.0], [-3.0, 6.0]),
        "mean": ([-1 / 3, 11 / 3], [-1.5, 3.0]),
        "max": ([2.0, 7.0], [1.0, 7.0]),
    }[kind]
    torch.testing.assert_close(pool(h, None, kind)[:, 0], torch.tensor(by_hand[0]))
    torch.testing.assert_close(pool(h, mask, kind)[:, 0], torch.tensor(by_hand[1]))


@pytest.mark.parametrize("kind", ds.POOLINGS)
def test_empty_sets_pool_to_zero(kind):
    h = torch.randn(3, 4, 2) - 10  # all negative, so a max over padding would not give 0
    mask = torch.tensor([[False] * 4, [True, False, False, False], [False] * 4])
    out = pool(h, mask, kind)  # (3, 2)
    assert torch.equal(out[0], torch.zeros(2)) and torch.equal(out[2], torch.zeros(2))
    torch.testing.assert_close(out[1], h[1, 0])
    # no objects at all (N = 0), with and without a mask
    empty = torch.zeros(2, 0, 3)
    assert torch.equal(pool(empty, None, kind), torch.zeros(2, 3))
    assert torch.equal(pool(empty, torch.zeros(2, 0, dtype=torch.bool), kind), torch.zeros(2, 3))


@pytest.mark.parametrize("kind", ds.POOLINGS)
@pytest.mark.parametrize("filler", [1e30, -1e30, float("inf"), float("-inf"), float("nan")])
def test_padding_values_never_change_the_pool(kind, filler):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 6, 3, generator=g)  # (B, N, L)
    mask = torch.rand(4, 6, generator=g) < 0.5
    mask[0] = False  # one empty set
    mask[1] = True  # one full set
    padded = h.masked_fill(~mask.unsqueeze(-1), filler)
    torch.testing.assert_close(pool(padded, mask, kind), pool(h, mask, kind))


def test_mask_of_all_true_equals_no_mask():
    h = torch.randn(3, 5, 2)
    for kind in ds.POOLINGS:
        full = torch.ones(3, 5, dtype=torch.bool)
        torch.testing.assert_close(pool(h, full, kind), pool(h, None, kind))
        if kind != "sum":
            assert not torch.allclose(pool(h, kind=kind), pool(h)), "kinds must differ"


@pytest.mark.parametrize("kind", ds.POOLINGS)
@SETTINGS
@given(data=batches(max_latent=3), perm_seed=st.integers(0, 2**31 - 1))
def test_pool_is_invariant_to_permuting_objects_and_mask_together(kind, data, perm_seed):
    h, mask = data
    perm = torch.randperm(h.shape[1], generator=torch.Generator().manual_seed(perm_seed))
    torch.testing.assert_close(pool(h[:, perm], mask[:, perm], kind), pool(h, mask, kind))


# --- the DeepSet: invariance for every pooling and latent width --------------------------------


def deepset(pooling: str, latent: int, seed: int = 0) -> ds.DeepSet:
    """A DeepSet with random weights, in float64 so that invariance can be checked tightly."""
    torch.manual_seed(seed)
    return ds.DeepSet(latent=latent, pooling=pooling).double().eval()


@st.composite
def padded_sets(draw, max_sets=5, max_objects=9):
    """X (B, N, 1) float64 with random real values and random padding values, and its mask."""
    B = draw(st.integers(1, max_sets))
    N = draw(st.integers(1, max_objects))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    sizes = torch.randint(0, N + 1, (B,), generator=g)  # (B,) true sizes, 0..N
    mask = torch.arange(N) < sizes.unsqueeze(-1)  # (B, N) real objects first
    X = torch.rand(B, N, 1, generator=g, dtype=torch.float64)  # (B, N, 1)
    X = torch.where(mask.unsqueeze(-1), X, draw(st.sampled_from([0.0, 1.0, -5.0])))
    return X, mask


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@pytest.mark.parametrize("latent", range(1, 9))
@settings(max_examples=5, deadline=None)
@given(data=padded_sets(), perm_seed=st.integers(0, 2**31 - 1))
def test_deepset_is_invariant_to_random_permutations(pooling, latent, data, perm_seed):
    """Permuting all N slots moves real objects and padding around together: output unchanged."""
    X, mask = data
    model = deepset(pooling, latent, seed=latent)
    g = torch.Generator().manual_seed(perm_seed)
    with torch.no_grad():
        for _ in range(3):
            perm = torch.randperm(X.shape[1], generator=g)
            torch.testing.assert_close(model(X[:, perm]), model(X), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(
                model(X[:, perm], mask[:, perm]), model(X, mask), rtol=1e-12, atol=1e-12
            )


def test_the_permutation_check_catches_an_order_sensitive_model():
    """The harness above can fail: a flattened MLP changes under the same kind of permutation."""
    torch.manual_seed(0)
    mlp = ds.make_mlp((20, 20), "relu").double()
    X, _ = ds.make_data(20, generator=1)
    X = X.double()
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (mlp(X[:, perm]) - mlp(X)).abs().max() > 1e-4


# --- latent width L -----------------------------------------------------------------------------


def params_by_hand(F: int, H: int, L: int, R: int) -> int:
    """phi: F -> H -> H -> L, rho: L -> R -> 1, each Linear with a bias."""
    phi = (F * H + H) + (H * H + H) + (H * L + L)
    rho = (L * R + R) + (R * 1 + 1)
    return phi + rho


def test_default_deepset_has_the_exercises_62_parameters():
    assert params_by_hand(1, 5, 1, 5) == 62  # 10 + 30 + 6 + 10 + 6
    assert ds.count_params(ds.DeepSet()) == 62


@pytest.mark.parametrize("latent", range(1, 9))
@pytest.mark.parametrize(("hidden", "rho_hidden", "in_features"), [(5, None, 1), (3, 7, 2)])
def test_latent_width_sets_phi_output_and_rho_input(latent, hidden, rho_hidden, in_features):
    model = ds.DeepSet(hidden, latent=latent, rho=Rho(rho_hidden), in_features=in_features)
    X = torch.rand(4, 6, in_features)  # (B, N, F)
    with torch.no_grad():
        assert model.phi(X).shape == (4, 6, latent)
        assert model.embed(X).shape == (4, latent)
        assert model(X).shape == (4, 1)
    first_rho = next(m for m in model.rho if isinstance(m, torch.nn.Linear))
    assert first_rho.in_features == latent
    R = hidden if rho_hidden is None else rho_hidden
    assert ds.count_params(model) == params_by_hand(in_features, hidden, latent, R)


def test_embed_is_the_pool_of_phi():
    torch.manual_seed(3)
    X = torch.rand(5, 7, 1)
    mask = torch.rand(5, 7) < 0.6
    for pooling in ds.POOLINGS:
        model = ds.DeepSet(latent=3, pooling=pooling)
        with torch.no_grad():
            h = model.phi(X).double()
            expected = torch.tensor(pool_loop(h, mask, pooling), dtype=torch.float32)
            torch.testing.assert_close(model.embed(X, mask), expected)
            torch.testing.assert_close(model(X, mask), model.rho(expected))


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["avg", "Sum", "", None, "attention"])
def test_unknown_pooling_is_rejected_with_the_choices(bad):
    with pytest.raises(ValueError, match=r"pooling must be one of \('sum', 'mean', 'max'\)"):
        ds.DeepSet(pooling=bad)
    with pytest.raises(ValueError, match=r"kind must be one of \('sum', 'mean', 'max'\)"):
        pool(torch.zeros(1, 2, 1), kind=bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_latent_width_is_rejected(bad):
    with pytest.raises(ValueError, match="latent must be a positive integer"):
        ds.DeepSet(latent=bad)


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (torch.zeros(4, 10), ValueError, r"shape \(B, N, 1\).*got \(4, 10\)"),
        (torch.zeros(4, 10, 2), ValueError, r"shape \(B, N, 1\).*got \(4, 10, 2\)"),
        (torch.zeros(4, 10, 1, dtype=torch.long), TypeError, "floating-point"),
        ([[[0.0]]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_deepset_inputs_give_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        ds.DeepSet()(X)
