"""PermEquivariant, the paper's x_i -> Lambda x_i + Gamma pool(x) + b: equivariance, formula, masks.

Shape letters: B sets, N objects, F input features, D output features.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import deepsets as ds
from deepsets.models.pooling import pool

SETTINGS = settings(max_examples=20, deadline=None)


def layer(F: int, D: int, pooling: str = "sum", seed: int = 0) -> ds.PermEquivariant:
    torch.manual_seed(seed)
    return ds.PermEquivariant(F, D, pooling).double()


@st.composite
def sets(draw, max_sets=4, max_objects=7, max_features=3):
    """x (B, N, F) float64, a mask (B, N) with random real objects, and a permutation of N."""
    B = draw(st.integers(1, max_sets))
    N = draw(st.integers(1, max_objects))
    F = draw(st.integers(1, max_features))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(B, N, F, generator=g, dtype=torch.float64)
    mask = torch.rand(B, N, generator=g) < draw(st.floats(0.0, 1.0))
    perm = torch.randperm(N, generator=g)
    return x, mask, perm


def by_hand(m: ds.PermEquivariant, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Lambda x_i + b + Gamma pool(x) for each object, with loops; padded rows 0."""
    B, N, F = x.shape
    Lam, b, Gam = m.Lambda.weight, m.Lambda.bias, m.Gamma.weight  # (D, F), (D,), (D, F)
    out = torch.zeros(B, N, Lam.shape[0], dtype=x.dtype)
    for s in range(B):
        real = [i for i in range(N) if mask is None or bool(mask[s, i])]
        if not real:
            pooled = torch.zeros(F, dtype=x.dtype)
        elif m.pooling == "sum":
            pooled = sum(x[s, i] for i in real)
        elif m.pooling == "mean":
            pooled = sum(x[s, i] for i in real) / len(real)
        else:
            pooled = torch.stack([x[s, i] for i in real]).max(dim=0).values
        for i in real:
            out[s, i] = Lam @ x[s, i] + b + Gam @ pooled
    return out


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@SETTINGS
@given(data=sets(), D=st.integers(1, 4))
def test_permuting_input_rows_permutes_output_rows_the_same_way(pooling, data, D):
    x, mask, perm = data
    m = layer(x.shape[-1], D, pooling)
    with torch.no_grad():
        torch.testing.assert_close(m(x[:, perm]), m(x)[:, perm], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            m(x[:, perm], mask[:, perm]), m(x, mask)[:, perm], rtol=1e-12, atol=1e-12
        )


def test_the_output_rows_do_move_with_the_input():
    """The equivariance check above can fail: the layer is not invariant, rows follow objects."""
    m = layer(2, 3)
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    perm = torch.tensor([1, 2, 3, 4, 0])
    with torch.no_grad():
        assert not torch.allclose(m(x[:, perm]), m(x))
        assert not torch.allclose(m(x[:, perm]), m(x)[:, perm.argsort()])


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@pytest.mark.parametrize("masked", [False, True])
@SETTINGS
@given(data=sets(), D=st.integers(1, 4))
def test_matches_the_formula_computed_by_hand(pooling, masked, data, D):
    x, mask, _ = data
    mask = mask if masked else None
    m = layer(x.shape[-1], D, pooling, seed=D)
    with torch.no_grad():
        torch.testing.assert_close(m(x, mask), by_hand(m, x, mask), rtol=1e-12, atol=1e-12)


def test_formula_on_a_tiny_example_with_chosen_weights():
    m = ds.PermEquivariant(1, 1, "sum")
    with torch.no_grad():
        m.Lambda.weight.fill_(2.0)
        m.Lambda.bias.fill_(0.5)
        m.Gamma.weight.fill_(-1.0)
        x = torch.tensor([[[1.0], [2.0], [4.0]]])  # sum 7
        out = m(x)[0, :, 0]
        mask = torch.tensor([[True, True, False]])  # sum 3
        out_masked = m(x, mask)[0, :, 0]
    torch.testing.assert_close(out, torch.tensor([2 + 0.5 - 7, 4 + 0.5 - 7, 8 + 0.5 - 7]))
    torch.testing.assert_close(out_masked, torch.tensor([2 + 0.5 - 3, 4 + 0.5 - 3, 0.0]))


def test_parameters_are_lambda_with_bias_and_gamma_without():
    m = ds.PermEquivariant(3, 4)
    assert ds.count_params(m) == 3 * 4 + 4 + 3 * 4
    assert m.Gamma.bias is None


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@SETTINGS
@given(data=sets(), fill=st.sampled_from([0.0, 7.0, -1e3, float("inf"), float("nan")]))
def test_masks_zero_padded_rows_and_padding_never_enters_the_pool(pooling, data, fill):
    x, mask, _ = data
    m = layer(x.shape[-1], 3, pooling)
    padded = torch.where(mask.unsqueeze(-1), x, fill)
    with torch.no_grad():
        out = m(padded, mask)  # (B, N, 3)
        assert torch.equal(out[~mask], torch.zeros_like(out[~mask]))
        torch.testing.assert_close(out, m(x, mask), rtol=1e-12, atol=1e-12)
        for s in range(x.shape[0]):  # each set alone, at its true size
            real = x[s][mask[s]].unsqueeze(0)  # (1, n_s, F)
            torch.testing.assert_close(out[s][mask[s]], m(real)[0], rtol=1e-12, atol=1e-12)


class TwoLayerSetNet(nn.Module):
    """PermEquivariant -> tanh -> PermEquivariant -> tanh -> pool -> Linear: a deeper set net."""

    def __init__(self, F: int, pooling: str) -> None:
        super().__init__()
        self.pooling = pooling
        self.eq1 = ds.PermEquivariant(F, 6, pooling)
        self.eq2 = ds.PermEquivariant(6, 4, pooling)
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.tanh(self.eq1(x, mask))  # (B, N, 6)
        h = torch.tanh(self.eq2(h, mask))  # (B, N, 4)
        return self.head(pool(h, mask, self.pooling))  # (B, 1)


@pytest.mark.parametrize("pooling", ds.POOLINGS)
@SETTINGS
@given(data=sets())
def test_a_two_layer_stack_followed_by_pooling_is_invariant(pooling, data):
    x, mask, perm = data
    torch.manual_seed(1)
    net = TwoLayerSetNet(x.shape[-1], pooling).double()
    with torch.no_grad():
        torch.testing.assert_close(net(x[:, perm]), net(x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            net(x[:, perm], mask[:, perm]), net(x, mask), rtol=1e-12, atol=1e-12
        )
        # padded + masked equals each set alone
        for s in range(x.shape[0]):
            alone = net(x[s][mask[s]].unsqueeze(0))  # (1, 1)
            torch.testing.assert_close(net(x, mask)[s], alone[0], rtol=1e-12, atol=1e-12)


def test_the_stack_is_not_trivially_constant():
    torch.manual_seed(1)
    net = TwoLayerSetNet(1, "sum")
    X, _ = ds.make_data(20, generator=0)
    with torch.no_grad():
        out = net(X + torch.rand(20, 10, 1, generator=torch.Generator().manual_seed(0)))
    assert out.std() > 1e-3


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.zeros(5, 2), ValueError, r"shape \(B, N, 2\).*got \(5, 2\)"),
        (torch.zeros(1, 5, 3), ValueError, r"shape \(B, N, 2\).*got \(1, 5, 3\)"),
        (torch.zeros(1, 1, 5, 2), ValueError, r"got \(1, 1, 5, 2\)"),
        (torch.zeros(1, 5, 2, dtype=torch.long), TypeError, "floating-point"),
        ([[[0.0, 0.0]]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_inputs_give_clear_errors(x, error, match):
    with pytest.raises(error, match=match):
        ds.PermEquivariant(2, 3)(x)


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (torch.ones(2, 4, dtype=torch.bool), ValueError, r"\(B, N\) = \(2, 5\).*got \(2, 4\)"),
        (torch.ones(5, dtype=torch.bool), ValueError, r"got \(5,\)"),
        (torch.ones(2, 5), TypeError, "mask must be a boolean tensor"),
        (torch.ones(2, 5, dtype=torch.int64), TypeError, "mask must be a boolean tensor"),
    ],
)
def test_bad_masks_give_clear_errors(mask, error, match):
    with pytest.raises(error, match=match):
        ds.PermEquivariant(2, 3)(torch.zeros(2, 5, 2), mask)


@pytest.mark.parametrize("bad", ["avg", "SUM", None])
def test_unknown_pooling_is_rejected(bad):
    with pytest.raises(ValueError, match=r"pooling must be one of \('sum', 'mean', 'max'\)"):
        ds.PermEquivariant(2, 3, bad)
