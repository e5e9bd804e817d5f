"""check_invariance: real permutations, outputs against a direct computation, seeds, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets import DeepSet, InvarianceCheck, check_invariance, make_data, make_mlp


@pytest.fixture
def models():
    torch.manual_seed(0)
    return {"deepset": DeepSet(), "mlp": make_mlp()}


@pytest.fixture
def X():
    return make_data(20, generator=0)[0]


def test_deepset_does_not_move_and_the_mlp_does(models, X):
    check = check_invariance(models, X, 5, rng=0)
    assert check.max_change["deepset"] <= 1e-6
    assert check.max_change["mlp"] > 1e-4


@pytest.mark.parametrize("activation", ["tanh", "relu", None])
def test_deepset_variants_are_invariant(activation, X):
    torch.manual_seed(1)
    check = check_invariance(DeepSet(7, activation), X, 4, rng=1)
    assert check.max_change["DeepSet"] <= 1e-6


@pytest.mark.parametrize("k", [1, 3, 8])
def test_permutations_are_real_permutations(models, X, k):
    check = check_invariance(models, X, k, rng=2)
    assert len(check.permutations) == k
    for p in check.permutations:
        assert sorted(p.tolist()) == list(range(X.shape[1]))
    assert any((p != np.arange(10)).any() for p in check.permutations)  # not all the identity


def test_outputs_are_the_models_on_the_permuted_sets(models, X):
    check = check_invariance(models, X, 3, rng=3)
    for name, model in models.items():
        out = check.outputs[name]
        assert out.shape == (4, X.shape[0])
        with torch.no_grad():
            expected = [model(X)[:, 0]] + [
                model(X[:, p.tolist()])[:, 0] for p in check.permutations
            ]
        np.testing.assert_allclose(out, torch.stack(expected).double().numpy(), rtol=0, atol=1e-7)
        # max_change by hand: the largest distance of any permuted row from row 0
        by_hand = max(abs(out[j, b] - out[0, b]) for j in range(1, 4) for b in range(X.shape[0]))
        assert check.max_change[name] == pytest.approx(by_hand, abs=1e-12)


def test_reproducible_with_an_rng_seed_and_equal_to_numpys_permutation(models, X):
    a = check_invariance(models, X, 3, rng=42)
    b = check_invariance(models, X, 3, rng=np.random.default_rng(42))
    rng = np.random.default_rng(42)
    expected = [rng.permutation(10) for _ in range(3)]
    for p, q, e in zip(a.permutations, b.permutations, expected, strict=True):
        assert np.array_equal(p, q) and np.array_equal(p, e)
    for name in models:
        assert np.array_equal(a.outputs[name], b.outputs[name])
    c = check_invariance(models, X, 3, rng=43)
    assert any(
        not np.array_equal(p, q) for p, q in zip(a.permutations, c.permutations, strict=True)
    )


def test_one_model_is_named_after_its_class(X):
    check = check_invariance(make_mlp(), X, 2, rng=0)
    assert isinstance(check, InvarianceCheck)
    assert list(check.outputs) == ["Sequential"]


@pytest.mark.parametrize("training", [True, False])
def test_the_training_mode_is_restored(models, X, training):
    for model in models.values():
        model.train(training)
    check_invariance(models, X, 1, rng=0)
    assert all(model.training is training for model in models.values())


@pytest.mark.parametrize("bad", [torch.zeros(10), torch.zeros(4, 10), np.zeros((4, 10, 1))])
def test_bad_input_shapes_are_rejected(bad):
    with pytest.raises(ValueError, match=r"X must be a tensor of shape \(B, N, F\)"):
        check_invariance(DeepSet(), bad)


@pytest.mark.parametrize("k", [0, -1])
def test_at_least_one_permutation(X, k):
    with pytest.raises(ValueError, match=f"n_permutations must be a positive integer, got {k}"):
        check_invariance(DeepSet(), X, k)
