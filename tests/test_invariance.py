"""check_invariance: real permutations, outputs against direct calls, DeepSet exact, MLP not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsets import DeepSet, InvarianceCheck, check_invariance, make_data, make_mlp, train


@pytest.fixture(scope="module")
def X() -> torch.Tensor:
    return make_data(64, generator=0)[0]  # (64, 10, 1)


@pytest.mark.parametrize("n_permutations", [1, 3, 7])
def test_permutations_are_real_permutations_of_the_objects(X, n_permutations):
    check = check_invariance(DeepSet(generator=0), X, n_permutations, rng=0)
    assert len(check.permutations) == n_permutations
    for p in check.permutations:
        assert sorted(p.tolist()) == list(range(X.shape[1]))
    assert any(not np.array_equal(p, np.arange(X.shape[1])) for p in check.permutations)


def test_outputs_are_the_models_outputs_on_each_permuted_copy(X):
    models = {"deepset": DeepSet(generator=0), "mlp": make_mlp(generator=0)}
    check = check_invariance(models, X, 3, rng=1)
    assert set(check.outputs) == {"deepset", "mlp"}
    with torch.no_grad():
        for name, model in models.items():
            out = check.outputs[name]
            assert out.shape == (4, X.shape[0])
            # Reference: permute each set's objects with a plain index list, one set at a time.
            views = [X] + [torch.stack([x[list(p)] for x in X]) for p in check.permutations]
            expected = np.stack([model(v)[:, 0].double().numpy() for v in views])
            np.testing.assert_array_equal(out, expected)
            assert check.max_change[name] == pytest.approx(np.abs(expected[1:] - expected[0]).max())


def test_deepset_is_invariant_and_the_mlp_is_not(X):
    models = {"deepset": DeepSet(generator=1), "mlp": make_mlp(generator=1)}
    change = check_invariance(models, X, 5, rng=2).max_change
    assert change["deepset"] <= 1e-6
    assert change["mlp"] > 1e-4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_mlps_of_several_shapes_are_measurably_not_invariant(X, seed):
    for hidden in (5, (20, 20), (8, 8, 8)):
        change = check_invariance(make_mlp(hidden, generator=seed), X, 3, rng=seed)
        assert change.max_change["Sequential"] > 1e-4


def test_reproducible_with_an_rng_seed(X):
    model = make_mlp(generator=0)
    a, b = check_invariance(model, X, 4, rng=5), check_invariance(model, X, 4, rng=5)
    assert all(np.array_equal(p, q) for p, q in zip(a.permutations, b.permutations, strict=True))
    np.testing.assert_array_equal(a.outputs["Sequential"], b.outputs["Sequential"])
    c = check_invariance(model, X, 4, rng=6)
    assert any(
        not np.array_equal(p, q) for p, q in zip(a.permutations, c.permutations, strict=True)
    )


def test_a_numpy_generator_is_used_as_given(X):
    rng, reference = np.random.default_rng(3), np.random.default_rng(3)
    expected = [reference.permutation(10) for _ in range(2)]
    check = check_invariance(DeepSet(generator=0), X, 2, rng=rng)
    assert all(np.array_equal(p, q) for p, q in zip(check.permutations, expected, strict=True))
    assert np.array_equal(rng.permutation(10), reference.permutation(10))  # advanced, not copied


def test_a_single_model_is_named_after_its_class_and_its_mode_is_restored(X):
    model = DeepSet(generator=0).train()
    check = check_invariance(model, X, 2, rng=0)
    assert isinstance(check, InvarianceCheck) and set(check.outputs) == {"DeepSet"}
    assert model.training


def test_max_change_is_the_largest_deviation_from_the_original_order():
    check = InvarianceCheck(
        [np.arange(3)] * 2, {"m": np.array([[0.5, 0.2], [0.5, 0.7], [0.1, 0.2]])}
    )
    assert check.max_change == {"m": pytest.approx(0.5)}


@pytest.mark.parametrize(
    "bad", [torch.zeros(4, 10), torch.zeros(2, 4, 10, 1), np.zeros((4, 10, 1))]
)
def test_bad_input_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match=r"X must be a tensor of shape \(B, N, F\)"):
        check_invariance(DeepSet(generator=0), bad)


@pytest.mark.parametrize("n", [0, -1, 2.5, 3.0, True, "3", None])
def test_n_permutations_must_be_a_positive_integer(X, n):
    with pytest.raises(ValueError, match="n_permutations must be a positive integer") as e:
        check_invariance(DeepSet(generator=0), X, n)
    assert str(e.value).endswith(f"got {n!r}")


def test_trained_deepset_stays_invariant_and_trained_mlp_does_not(X):
    deepset, _ = train(DeepSet(generator=0), 300, lr=1e-2, seed=0, progress=False)
    mlp, _ = train(make_mlp(generator=0), 300, lr=1e-2, seed=0, progress=False)
    change = check_invariance({"deepset": deepset, "mlp": mlp}, X, 5, rng=0).max_change
    assert change["deepset"] <= 1e-6
    assert change["mlp"] > 1e-4


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", None])
@pytest.mark.parametrize("hidden", [1, 7])
def test_deepset_variants_are_invariant(X, activation, hidden):
    model = DeepSet(hidden, activation, generator=hidden)
    assert check_invariance(model, X, 4, rng=hidden).max_change["DeepSet"] <= 1e-6
