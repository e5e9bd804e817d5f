"""Hostile inputs to the public API, by class (issue 21: shared parameters, non-finite data,
inputs that require grad and dtypes, arguments named wrongly): each is refused before any work
with a ValueError or TypeError naming the argument, or, where the input is legitimate, handled
as an independent reference says."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import deepsets as ds
from deepsets import training
from deepsets.validate import check_finite


def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any training step fail: a refusal must come before the engine starts."""

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the engine started training before refusing")

    monkeypatch.setattr(training, "run_parts", fail)
    monkeypatch.setattr(training, "run_groups", fail)


def refused(call: Callable[[], object], *names: str) -> str:
    """`call()` raises a ValueError or TypeError whose message contains every one of `names`."""
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    for name in names:
        assert name in str(e.value), f"{name!r} not named in: {e.value}"
    return str(e.value)


def state(models: list[nn.Module]) -> list[dict[str, torch.Tensor]]:
    return [copy.deepcopy(m.state_dict()) for m in models]


# --- class 1: a parameter shared between models ------------------------------------------------


class Linear2(nn.Module):
    """A user module around a given first layer."""

    def __init__(self, first: nn.Linear) -> None:
        super().__init__()
        self.first, self.out = first, nn.Linear(first.out_features, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(torch.tanh(self.first(X)).sum(1)))  # (B, 1)


def shared_phi() -> list[nn.Module]:
    a, b = ds.DeepSet(), ds.DeepSet()
    b.phi = a.phi
    return [a, b]


def shared_rho_of_three() -> list[nn.Module]:
    a, b, c = ds.DeepSet(), ds.DeepSet(), ds.DeepSet()
    c.rho = a.rho
    return [a, b, c]


def shared_linear() -> list[nn.Module]:
    first = nn.Linear(1, 4)
    return [Linear2(first), Linear2(first)]


def tied_weight() -> list[nn.Module]:
    a, b = ds.DeepSet(), ds.DeepSet()
    b.rho[0].weight = a.rho[0].weight  # one nn.Parameter in two models
    return [a, b]


def deepset_and_user() -> list[nn.Module]:
    a = ds.DeepSet(hidden=4)
    return [a, Linear2(a.phi[0])]  # a DeepSet's first layer inside a user module


SHARED = {
    "phi": (shared_phi, "models[0].phi.0.weight", "models[1].phi.0.weight"),
    "rho of 0 and 2": (shared_rho_of_three, "models[0].rho.0.weight", "models[2].rho.0.weight"),
    "nn.Linear": (shared_linear, "models[0].first.weight", "models[1].first.weight"),
    "one parameter": (tied_weight, "models[0].rho.0.weight", "models[1].rho.0.weight"),
    "DeepSet and module": (deepset_and_user, "models[0].phi.0.weight", "models[1].first.weight"),
}


@pytest.mark.parametrize("how", ["train_many", "train_on", "train_on drawn"])
@pytest.mark.parametrize("case", sorted(SHARED))
def test_shared_parameters_refused(case: str, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, first, second = SHARED[case]
    models = make()
    before = state(models)
    no_work(monkeypatch)
    X, y = ds.make_data(8, generator=0)
    calls: dict[str, Callable[[], object]] = {
        "train_many": lambda: ds.train_many(models, 5, seeds=list(range(len(models)))),
        "train_on": lambda: ds.train_on(models, X, y, 5),
        "train_on drawn": lambda: ds.train_on(models, X, y, 5, batch_size=4),
    }
    refused(calls[how], first, second, "share one parameter")
    for m, s in zip(models, before, strict=True):  # nothing was trained or written back
        assert all(torch.equal(m.state_dict()[k], v) for k, v in s.items())


def test_tying_within_one_model_trains_as_alone() -> None:
    """A parameter tied inside one model is not shared between models: the model trains with
    another exactly as it does alone (float64, an own-forward module: one loop either way)."""

    def tied() -> nn.Module:
        torch.manual_seed(0)
        first = nn.Linear(1, 4)
        m = Linear2(first)
        m.again = first  # the same module twice inside one model
        return m.double()

    alone, together = tied(), tied()
    other = Linear2(nn.Linear(1, 4)).double()
    _, L1 = ds.train_many([alone], 30, seeds=[3])
    _, L2 = ds.train_many([together, other], 30, seeds=[3, 4])
    assert together.first is together.again
    np.testing.assert_allclose(L2[0], L1[0], rtol=0, atol=1e-9)
    for p, q in zip(alone.parameters(), together.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-9)


# --- class 6: arguments named wrongly or not checked ---------------------------------------------

X8, Y8 = ds.make_data(8, generator=0)

ARGUMENTS: dict[str, tuple[Callable[[], object], str]] = {
    "colliding_pairs(alphabet=1)": (lambda: ds.tasks.colliding_pairs(alphabet=1), "alphabet"),
    "colliding_pairs(alphabet=True)": (lambda: ds.tasks.colliding_pairs(alphabet=True), "alphabet"),
    "exercise_sets(B=3)": (lambda: ds.tasks.exercise_sets(B=3), "B must"),
    "exercise_sets(B=0)": (lambda: ds.tasks.exercise_sets(0), "B must"),
    "exercise_sets(B=4.0)": (lambda: ds.tasks.exercise_sets(4.0), "B must"),
    "train(sizes='5,8')": (lambda: ds.train(ds.DeepSet(), 3, sizes="5,8"), "sizes"),
    "train(sizes=(5, 8.0))": (lambda: ds.train(ds.DeepSet(), 3, sizes=(5, 8.0)), "sizes[1]"),
    "train(sizes=(5,))": (lambda: ds.train(ds.DeepSet(), 3, sizes=(5,)), "sizes"),
    "train(sizes={5, 8})": (lambda: ds.train(ds.DeepSet(), 3, sizes={5, 8}), "sizes"),
    "train(sizes=(True, 8))": (lambda: ds.train(ds.DeepSet(), 3, sizes=(True, 8)), "sizes[0]"),
    "train(sizes, n_objects)": (
        lambda: ds.train(ds.DeepSet(), 3, sizes=(5, 8), n_objects=20),
        "n_objects=20",
    ),
    "train_many(sizes, n_objects=10)": (
        lambda: ds.train_many([ds.DeepSet()], 3, seeds=[0], sizes=(5, 8), n_objects=10),
        "n_objects=10",
    ),
    "train_on(seeds=['x'])": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, seeds=["x"]),
        "seeds[0]",
    ),
    "train_on(seeds=[1.5])": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, seeds=[1.5]),
        "seeds[0]",
    ),
    "train_on(seeds=[0, -1])": (
        lambda: ds.train_on([ds.DeepSet(), ds.DeepSet()], X8, Y8, 3, seeds=[0, -1]),
        "seeds[1]",
    ),
    "train_on(seeds=[None], batch_size=4)": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, seeds=[None], batch_size=4),
        "seeds[0]",
    ),
    "train_on(seeds=[2**63])": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, seeds=[2**63], batch_size=4),
        "seeds[0]",
    ),
}


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_arguments_named(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    call, name = ARGUMENTS[case]
    no_work(monkeypatch)
    refused(call, name)


def test_sizes_as_a_list_and_n_objects_alone_still_train() -> None:
    """The legitimate neighbours of the refused cases: sizes as a list is the same run as the
    tuple, and leaving n_objects out is the same run as the exercise's n_objects=10."""

    def run(**kwargs: object) -> np.ndarray:
        torch.manual_seed(0)
        return ds.train(ds.DeepSet(), 5, seed=1, **kwargs)[1]

    np.testing.assert_array_equal(run(sizes=[5, 8]), run(sizes=(5, 8)))
    np.testing.assert_array_equal(run(), run(n_objects=10))
    assert not np.array_equal(run(), run(n_objects=12))  # n_objects alone is not ignored


# --- class 2: non-finite data --------------------------------------------------------------------


def poisoned(t: torch.Tensor, index: tuple[int, ...], value: float) -> torch.Tensor:
    t = t.clone()
    t[index] = value
    return t


def nonfinite_calls(X: torch.Tensor, y: torch.Tensor) -> dict[str, Callable[[], object]]:
    """Every entry point that takes data, given X (8, 10, 1) and y (8, 1)."""
    full = torch.ones(8, 10, dtype=torch.bool)
    return {
        "train_on bce": lambda: ds.train_on([ds.DeepSet()], X, y, 3),
        "train_on mse": lambda: ds.train_on([ds.DeepSet()], X, y, 3, loss="mse"),
        "train_on mae drawn": lambda: ds.train_on(
            [ds.DeepSet()], X, y, 3, loss="mae", batch_size=2
        ),
        "train_on masked": lambda: ds.train_on([ds.DeepSet()], X, y, 3, loss="mse", mask=full),
        "train_on per model": lambda: ds.train_on(
            [ds.DeepSet(), ds.DeepSet()], torch.stack([X8, X]), torch.stack([Y8, y]), 3, loss="mse"
        ),
        "evaluate": lambda: ds.evaluate(ds.DeepSet(), X, y),
        "evaluate masked": lambda: ds.evaluate(ds.DeepSet(), X, y, mask=full),
        "check_invariance": lambda: ds.check_invariance(ds.DeepSet(), X, rng=0),
        "plot_sets": lambda: ds.plot_sets(X, y),
    }


X_ONLY = {"evaluate", "evaluate masked", "check_invariance", "plot_sets", "train_on bce"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("index", [(0, 0, 0), (3, 7, 0), (7, 9, 0)])
@pytest.mark.parametrize("entry", sorted(nonfinite_calls(X8, Y8)))
def test_nonfinite_X_refused_naming_where(
    entry: str, index: tuple[int, ...], value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_work(monkeypatch)
    X = poisoned(X8, index, value)
    where = ("1, " if entry == "train_on per model" else "") + ", ".join(map(str, index))
    refused(nonfinite_calls(X, Y8)[entry], f"X[{where}]", "finite")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("entry", sorted(set(nonfinite_calls(X8, Y8)) - X_ONLY))
def test_nonfinite_y_refused_naming_where(
    entry: str, value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_work(monkeypatch)
    y = poisoned(Y8, (5, 0), value)
    where = "1, 5, 0" if entry == "train_on per model" else "5, 0"
    refused(nonfinite_calls(X8, y)[entry], f"y[{where}]", "finite")


@pytest.mark.parametrize("entry", sorted(X_ONLY - {"check_invariance"}))
def test_nonfinite_labels_refused(entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    no_work(monkeypatch)
    refused(nonfinite_calls(X8, poisoned(Y8, (2, 0), float("nan")))[entry], "y must hold")


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    data=st.data(),
    value=st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)
def test_first_nonfinite_index_against_numpy(
    shape: list[int], data: st.DataObject, value: float
) -> None:
    """check_finite reports the first bad entry in C order: numpy's argwhere agrees."""
    t = torch.zeros(shape, dtype=torch.float64)
    n_bad = data.draw(st.integers(1, t.numel()))
    for flat in data.draw(st.lists(st.integers(0, t.numel() - 1), min_size=n_bad, max_size=n_bad)):
        t.view(-1)[flat] = value
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(t.numpy()))[0])
    count = int((~torch.isfinite(t)).sum())
    msg = refused(lambda: check_finite(t, "Z"), f"Z[{', '.join(map(str, first))}]")
    assert f"({count} non-finite" in msg


def test_finite_and_integer_data_pass() -> None:
    check_finite(X8, "X")
    check_finite(torch.full((3,), 2**62, dtype=torch.int64), "X")  # tokens: never non-finite
    check_finite(torch.ones(2, dtype=torch.bool), "mask")
    check_finite(torch.empty(0, 3), "X")
