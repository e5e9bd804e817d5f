"""DeepSet and make_mlp: parameter counts by hand, a plain-loop reference, invariance, errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from deepsets import DeepSet, count_params, make_data, make_mlp
from deepsets.models import Rho

ACTIVATION_TYPES = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def deepset_param_count(h: int, rho_h: int | None = None, F: int = 1) -> int:
    """By hand: phi is F -> h -> h -> 1, rho is 1 -> rho_h -> 1 (weights plus biases)."""
    rho_h = h if rho_h is None else rho_h
    phi = (F * h + h) + (h * h + h) + (h * 1 + 1)
    rho = (1 * rho_h + rho_h) + (rho_h * 1 + 1)
    return phi + rho


def mlp_param_count(widths: tuple[int, ...], n_in: int = 10) -> int:
    """By hand: a Linear layer a -> b has a*b weights and b biases."""
    sizes = [n_in, *widths, 1]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def reference_deepset(model: DeepSet, X: torch.Tensor) -> list[float]:
    """rho(sum_i phi(x_i)) with a plain Python loop over sets and objects, in float64.

    Written from the exercise's description (phi: two tanh hidden layers; rho: one tanh hidden
    layer then a sigmoid), using only the weight matrices of the model.
    """
    W = [m.weight.detach().double() for m in model.phi if isinstance(m, nn.Linear)]
    b = [m.bias.detach().double() for m in model.phi if isinstance(m, nn.Linear)]
    V = [m.weight.detach().double() for m in model.rho if isinstance(m, nn.Linear)]
    c = [m.bias.detach().double() for m in model.rho if isinstance(m, nn.Linear)]
    out = []
    for x_set in X.double():  # (N, F)
        pooled = torch.zeros(W[-1].shape[0], dtype=torch.float64)
        for x in x_set:  # (F,)
            h = torch.tanh(W[0] @ x + b[0])
            h = torch.tanh(W[1] @ h + b[1])
            pooled = pooled + (W[2] @ h + b[2])
        z = V[1] @ torch.tanh(V[0] @ pooled + c[0]) + c[1]
        out.append(1 / (1 + math.exp(-z.item())))
    return out


# ---------------------------------------------------------------- parameter counts


def test_the_exercise_deepset_has_62_parameters():
    assert count_params(DeepSet()) == 62 == deepset_param_count(5)


@pytest.mark.parametrize("hidden", [1, 2, 5, 8, 32])
def test_deepset_parameter_count_matches_a_hand_count(hidden):
    assert count_params(DeepSet(hidden)) == deepset_param_count(hidden)


def test_rho_hidden_and_in_features_change_the_count_as_by_hand():
    assert count_params(DeepSet(5, rho=Rho(3))) == deepset_param_count(5, 3)
    assert count_params(DeepSet(4, in_features=3)) == deepset_param_count(4, F=3)


def test_the_exercise_mlp_has_661_parameters():
    assert count_params(make_mlp((20, 20))) == 661 == 10 * 20 + 20 + 20 * 20 + 20 + 20 + 1


@pytest.mark.parametrize("widths", [(), (1,), (5,), (20, 20), (8, 4, 2), (3, 3, 3, 3)])
@pytest.mark.parametrize("n_objects", [5, 10, 16])
def test_mlp_parameter_count_matches_a_hand_count(widths, n_objects):
    model = make_mlp(widths, n_objects=n_objects)
    assert count_params(model) == mlp_param_count(widths, n_objects)


def test_an_int_width_means_one_hidden_layer():
    assert count_params(make_mlp(7)) == mlp_param_count((7,)) == 10 * 7 + 7 + 7 + 1


def test_count_params_skips_frozen_parameters():
    model = DeepSet()
    for p in model.rho.parameters():
        p.requires_grad_(False)
    assert count_params(model) == 62 - 16  # rho: 1*5 + 5 + 5*1 + 1


@pytest.mark.parametrize("not_a_model", [None, 3, "DeepSet", [nn.Linear(2, 2)]])
def test_count_params_rejects_non_modules(not_a_model):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_params(not_a_model)


# ---------------------------------------------------------------- structure and the reference


def test_deepset_structure_is_the_exercise():
    model = DeepSet()
    phi, rho = list(model.phi), list(model.rho)
    assert [type(m) for m in phi] == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in phi if isinstance(m, nn.Linear)] == [
        (1, 5),
        (5, 5),
        (5, 1),
    ]
    assert [type(m) for m in rho] == [nn.Linear, nn.Tanh, nn.Linear, nn.Sigmoid]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu", None])
def test_deepset_phi_uses_the_requested_activation(activation):
    phi = list(DeepSet(activation=activation).phi)
    acts = [type(m) for m in phi if not isinstance(m, nn.Linear)]
    assert acts == ([] if activation is None else [ACTIVATION_TYPES[activation]] * 2)
    assert sum(isinstance(m, nn.Linear) for m in phi) == 3


@pytest.mark.parametrize("hidden", [1, 5, 9])
@pytest.mark.parametrize("N", [5, 10, 23])
def test_sum_pooling_equals_a_plain_loop_over_objects(hidden, N):
    torch.manual_seed(hidden * 100 + N)
    model = DeepSet(hidden)
    X = torch.rand(6, N, 1) * 2 - 1
    with torch.no_grad():
        out = model(X)[:, 0].double()
    torch.testing.assert_close(
        out, torch.tensor(reference_deepset(model, X), dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_embed_is_the_sum_of_phi_over_objects():
    torch.manual_seed(0)
    model = DeepSet()
    X, _ = make_data(8, generator=0)
    with torch.no_grad():
        expected = torch.stack([sum(model.phi(x) for x in x_set) for x_set in X])  # (B, 1)
        torch.testing.assert_close(model.embed(X), expected, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- invariance


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    hidden=st.sampled_from([1, 3, 5, 12]),
    activation=st.sampled_from(["tanh", "relu", "sigmoid", "gelu", None]),
    B=st.integers(1, 5),
    N=st.integers(1, 15),
    data=st.data(),
)
def test_deepset_is_invariant_under_random_permutations(seed, hidden, activation, B, N, data):
    torch.manual_seed(seed)
    model = DeepSet(hidden, activation)
    X = torch.rand(B, N, 1) * 2 - 1
    # a different permutation for every set of the batch
    perms = [data.draw(st.permutations(range(N)), label=f"perm{b}") for b in range(B)]
    X_perm = torch.stack([X[b, perm] for b, perm in enumerate(perms)])
    with torch.no_grad():
        torch.testing.assert_close(model(X_perm), model(X), atol=1e-6, rtol=0)


@pytest.mark.parametrize("widths", [(20, 20), (5,), (64, 64, 64)])
def test_the_mlp_is_measurably_not_invariant(widths):
    torch.manual_seed(0)
    model = make_mlp(widths)
    X, _ = make_data(100, generator=0)
    perm = np.random.default_rng(0).permutation(10)
    with torch.no_grad():
        change = (model(X[:, perm]) - model(X)).abs().max().item()
    assert change > 1e-3


# ---------------------------------------------------------------- shapes and ranges


@pytest.mark.parametrize("hidden", [1, 5, 16])
@pytest.mark.parametrize("activation", ["tanh", "relu", None])
@pytest.mark.parametrize(("B", "N"), [(1, 10), (7, 5), (3, 40)])
def test_deepset_output_shape_and_range(hidden, activation, B, N):
    torch.manual_seed(1)
    X, _ = make_data(2 * B, n_objects=N, generator=1)
    with torch.no_grad():
        p = DeepSet(hidden, activation)(X[:B])
    assert p.shape == (B, 1) and p.dtype == torch.float32
    assert torch.all((p > 0) & (p < 1))


@pytest.mark.parametrize("widths", [(), 3, (20, 20), (8, 8, 8), (4, 4, 4, 4, 4)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", None])
def test_mlp_depth_activation_shape_and_range(widths, activation):
    model = make_mlp(widths, activation)
    depth = 1 if isinstance(widths, int) else len(widths)
    assert isinstance(model, nn.Sequential)
    assert isinstance(model[0], nn.Flatten) and isinstance(model[-1], nn.Sigmoid)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert len(linears) == depth + 1
    assert linears[0].in_features == 10 and linears[-1].out_features == 1
    acts = [type(m) for m in model[1:-1] if not isinstance(m, nn.Linear)]
    assert acts == ([] if activation is None else [ACTIVATION_TYPES[activation]] * depth)
    X, _ = make_data(6, generator=2)
    with torch.no_grad():
        p = model(X)
    assert p.shape == (6, 1) and torch.all((p > 0) & (p < 1))


def test_mlp_for_another_set_size():
    X, _ = make_data(4, n_objects=7)
    with torch.no_grad():
        assert make_mlp(n_objects=7)(X).shape == (4, 1)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("shape", [(10,), (4, 10), (4, 10, 1, 1), (4, 10, 2), (4, 10, 0)])
def test_deepset_rejects_a_wrong_rank_or_width_with_a_value_error(shape):
    with pytest.raises(ValueError, match=re.escape("(B, N, 1)")) as info:
        DeepSet()(torch.zeros(shape))
    assert str(shape) in str(info.value)


def test_deepset_with_more_features_names_its_width():
    DeepSet(in_features=3)(torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match=re.escape("(B, N, 3)")):
        DeepSet(in_features=3)(torch.zeros(2, 5, 1))


@pytest.mark.parametrize("X", [torch.zeros(2, 5, 1, dtype=torch.long), [[[0.0]] * 5] * 2])
def test_deepset_rejects_non_float_or_non_tensor_input(X):
    with pytest.raises(TypeError, match="DeepSet expects"):
        DeepSet()(X)


@pytest.mark.parametrize("hidden", [0, -3, 2.5, True, "5"])
def test_deepset_rejects_bad_hidden(hidden):
    with pytest.raises(ValueError, match="hidden must be a positive integer") as info:
        DeepSet(hidden)
    assert repr(hidden) in str(info.value)


@pytest.mark.parametrize("activation", ["Tanh", "swish", ""])
def test_deepset_rejects_unknown_activation(activation):
    with pytest.raises(ValueError, match=re.escape(repr(activation))) as info:
        DeepSet(activation=activation)
    assert "tanh" in str(info.value)  # names the choices


@pytest.mark.parametrize("hidden", [0, (5, 0), (True,), (2.5,), (-1, 4), 2.5])
def test_make_mlp_rejects_bad_widths(hidden):
    with pytest.raises(ValueError, match=r"hidden(\[\d\])? must be (a|a list of) positive integer"):
        make_mlp(hidden)


def test_make_mlp_rejects_unknown_activation_and_small_sets():
    with pytest.raises(ValueError, match="'swish'"):
        make_mlp(activation="swish")
    with pytest.raises(ValueError, match="n_objects must be at least 5"):
        make_mlp(n_objects=4)


@pytest.mark.parametrize(
    "build", [lambda g: DeepSet(generator=g), lambda g: make_mlp((20, 20), generator=g)]
)
def test_constructors_are_seedable_and_leave_the_global_generator_alone(build):
    state = torch.get_rng_state()
    a, b, c = build(7), build(torch.Generator().manual_seed(7)), build(8)
    assert torch.equal(state, torch.get_rng_state())  # no draw from torch's global generator
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    # the seeded draw is nn.Linear's own: the same weights as torch.manual_seed(7) then build
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        ref = build(None)
    for p, q in zip(a.parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("bad", [1.5, "0", True, -1, 2**64])
def test_constructor_generator_must_be_a_seed_or_generator(bad):
    with pytest.raises((TypeError, ValueError), match="generator"):
        DeepSet(generator=bad)
