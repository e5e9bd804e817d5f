"""Hostile inputs to the public API, by class (issue 21: shared parameters, non-finite data,
inputs that require grad and dtypes, arguments named wrongly): each is refused before any work
with a ValueError or TypeError naming the argument, or, where the input is legitimate, handled
as an independent reference says."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import deepsets as ds
import deepsets.tasks  # noqa: F401  (ds.tasks: a subpackage is an attribute once imported)
from deepsets import training
from deepsets.checks import check_finite


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


def overlapping_views() -> list[nn.Module]:
    a, b = ds.DeepSet(), ds.DeepSet()
    base = torch.randn(20)
    a.rho[2].weight = nn.Parameter(base[0:5].view(1, 5))
    b.rho[2].weight = nn.Parameter(base[3:8].view(1, 5))  # bytes 12..20 of a's 0..20
    return [a, b]


def one_storage(overlap: bool) -> list[nn.Module]:
    """Two DeepSets whose last weights are views of one buffer, apart or overlapping."""
    torch.manual_seed(0)
    a, b = ds.DeepSet(), ds.DeepSet()
    base = torch.cat([a.rho[2].weight.data.view(-1), b.rho[2].weight.data.view(-1)])  # (10,)
    a.rho[2].weight = nn.Parameter(base[0:5].view(1, 5))
    b.rho[2].weight = nn.Parameter(base[5:10].view(1, 5))
    return [a, b]


SHARED = {
    "overlapping views": (overlapping_views, "models[0].rho.2.weight", "models[1].rho.2.weight"),
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


@settings(max_examples=30, deadline=None)
@given(
    K=st.integers(2, 4),
    links=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["phi", "rho"])),
        max_size=3,
    ),
)
def test_refused_exactly_when_some_parameter_is_in_two_models(
    K: int, links: list[tuple[int, int, str]]
) -> None:
    """Modules handed from one model to another at random: refused iff some parameter object
    ends up in two models (a plain enumeration of ids says), and the two named parameters are
    that one object."""
    models = [ds.DeepSet(hidden=3) for _ in range(K)]
    for i, j, part in links:
        setattr(models[j % K], part, getattr(models[i % K], part))
    owners: dict[int, set[int]] = {}
    for k, m in enumerate(models):
        for p in m.parameters():
            owners.setdefault(id(p), set()).add(k)
    if all(len(o) == 1 for o in owners.values()):
        training.check_unshared(models)
        return
    msg = refused(lambda: training.check_unshared(models), "share one parameter")
    named = re.findall(r"models\[(\d+)\]\.([\w.]+) ", msg)[:2]
    (a, pa), (b, pb) = named
    assert a != b
    assert models[int(a)].get_parameter(pa) is models[int(b)].get_parameter(pb)


def test_views_of_one_buffer_that_do_not_overlap_train_as_apart() -> None:
    """Parameters that only share a buffer, not memory, are not shared: they train exactly
    as copies of them in memory of their own do."""
    together = one_storage(False)
    apart = [copy.deepcopy(m) for m in together]
    assert apart[0].rho[2].weight.untyped_storage().data_ptr() != (
        apart[1].rho[2].weight.untyped_storage().data_ptr()
    )
    _, L1 = ds.train_many(together, 30, seeds=[1, 2])
    _, L2 = ds.train_many(apart, 30, seeds=[1, 2])
    np.testing.assert_array_equal(L1, L2)
    for m, n in zip(together, apart, strict=True):
        assert all(torch.equal(p, q) for p, q in zip(m.parameters(), n.parameters(), strict=True))


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
    "train_on(output=(2,), mse)": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, loss="mse", output=(2,)),
        "output=(2,)",
    ),
    "train_on(output=(1, 1))": (
        lambda: ds.train_on([ds.DeepSet()], X8, Y8, 3, output=(1, 1)),
        "output=(1, 1)",
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


# --- class 5: inputs that require grad, and dtypes ----------------------------------------------


class Cast(nn.Module):
    """A DeepSet whose forward returns `dtype` (float64 from float32 weights, or integers)."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.m, self.dtype = ds.DeepSet(), dtype

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.m(X).to(self.dtype)  # (B, 1)


class Logits(nn.Module):
    """Sum pooling into a linear layer, no sigmoid: logits, not probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(1, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return 10 * self.out(X.sum(1)) + 5  # (B, 1)


def grad(t: torch.Tensor) -> torch.Tensor:
    return t.clone().requires_grad_()


def reference_evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """BCE and accuracy by hand, in float64, from the model's outputs on float32 X."""
    with torch.no_grad():
        p = model.eval()(X).double()[:, 0].tolist()
    labels = [float(v) for v in y[:, 0].tolist()]
    bce = -sum(
        t * np.log(q) + (1 - t) * np.log(1 - q) for q, t in zip(p, labels, strict=True)
    ) / len(p)
    acc = sum((q > 0.5) == (t == 1) for q, t in zip(p, labels, strict=True)) / len(p)
    return float(bce), float(acc)


@pytest.mark.parametrize(
    "labels", [torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.uint8]
)
@pytest.mark.parametrize("X_grad", [False, True])
def test_evaluate_takes_any_label_dtype_and_grad_inputs(labels: torch.dtype, X_grad: bool) -> None:
    torch.manual_seed(0)
    model = ds.DeepSet()
    X, y = ds.make_data(64, generator=1)
    got = ds.evaluate(model, grad(X) if X_grad else X, y.to(labels))
    bce, acc = reference_evaluate(model, X, y)
    assert got["loss"] == pytest.approx(bce, rel=1e-5)
    assert got["accuracy"] == pytest.approx(acc, abs=1e-9)


@pytest.mark.parametrize("X_dtype", [torch.float16, torch.float64])
def test_evaluate_and_invariance_cast_float_X_to_the_models_dtype(X_dtype: torch.dtype) -> None:
    """Float X takes the model's dtype, as in train_on: the same numbers as float32 X (the
    exercise's values 0, 1/5, 1/3 round alike in half precision only to 1e-3)."""
    torch.manual_seed(0)
    model = ds.DeepSet()
    X, y = ds.make_data(64, generator=1)
    tol = 1e-3 if X_dtype == torch.float16 else 1e-7
    a, b = ds.evaluate(model, X.to(X_dtype), y), ds.evaluate(model, X, y)
    assert a["loss"] == pytest.approx(b["loss"], abs=tol)
    c = ds.check_invariance(model, X.to(X_dtype), rng=0).outputs["DeepSet"]
    np.testing.assert_allclose(c, ds.check_invariance(model, X, rng=0).outputs["DeepSet"], atol=tol)


def test_float64_model_evaluates_float32_data() -> None:
    torch.manual_seed(0)
    model = ds.DeepSet().double()
    X, y = ds.make_data(64, generator=1)
    bce, acc = reference_evaluate(model, X.double(), y)
    got = ds.evaluate(model, X, y)
    assert got["loss"] == pytest.approx(bce, rel=1e-12)
    assert got["accuracy"] == acc


MASK8 = torch.ones(8, 10, dtype=torch.bool)

DTYPES: dict[str, tuple[Callable[[], object], tuple[str, ...]]] = {
    "evaluate logits": (lambda: ds.evaluate(Logits(), X8, Y8), ("probabilities", "logits")),
    "evaluate integer outputs": (
        lambda: ds.evaluate(Cast(torch.int64), X8, Y8),
        ("floating-point", "int64"),
    ),
    "evaluate MLP with a mask": (
        lambda: ds.evaluate(ds.make_mlp(), X8, Y8, mask=MASK8),
        ("mask", "Sequential"),
    ),
    "evaluate mask of floats": (
        lambda: ds.evaluate(ds.DeepSet(), X8, Y8, mask=MASK8.float()),
        ("mask",),
    ),
    "evaluate integer X": (lambda: ds.evaluate(ds.DeepSet(), X8.long(), Y8), ("X", "int64")),
    "train float64 outputs": (
        lambda: ds.train(Cast(torch.float64), 3, seed=0),
        ("models[0]", "float64", "float32"),
    ),
    "train_on float64 outputs": (
        lambda: ds.train_on([ds.DeepSet(), Cast(torch.float64)], X8, Y8, 3),
        ("models[1]", "float64"),
    ),
    "train_on integer outputs mse": (
        lambda: ds.train_on([Cast(torch.int64)], X8, Y8, 3, loss="mse"),
        ("models[0]", "int64"),
    ),
    "train_many logits": (lambda: ds.train_many([Logits()], 3, seeds=[0]), ("models[0]", "logits")),
    "train_on MLP with a mask": (
        lambda: ds.train_on([ds.make_mlp()], X8, Y8, 3, mask=MASK8),
        ("mask", "Sequential"),
    ),
    "train_on complex X": (
        lambda: ds.train_on([ds.DeepSet()], X8.to(torch.complex64), Y8, 3),
        ("X", "complex64"),
    ),
}


@pytest.mark.parametrize("case", sorted(DTYPES))
def test_dtypes_refused_clearly(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    call, names = DTYPES[case]
    no_work(monkeypatch)
    refused(call, *names)


@pytest.mark.parametrize(
    "which", ["X", "y", "both", "X drawn", "X per model", "X float64", "y int"]
)
def test_train_on_reads_inputs_that_require_grad_as_values(which: str) -> None:
    """Data that require grad train exactly as their detached values do (and get no grad)."""
    X, y = ds.make_data(16, generator=2)
    kwargs: dict[str, object] = {"batch_size": 4} if which == "X drawn" else {}
    if which == "X per model":
        X, y = torch.stack([X, X.flip(0)]), torch.stack([y, y.flip(0)])
    if which == "X float64":
        X = X.double()
    if which == "y int":
        y = y.long()
    gX = grad(X) if which != "y" and which != "y int" else X
    gy = grad(y.float()) if which in ("y", "both") else y
    K = 2 if which == "X per model" else 1

    def run(X: torch.Tensor, y: torch.Tensor) -> tuple[list[nn.Module], np.ndarray]:
        torch.manual_seed(0)
        return ds.train_on([ds.DeepSet() for _ in range(K)], X, y, 20, **kwargs)

    (m1, *_), L1 = run(gX, gy)
    (m2, *_), L2 = run(X, y)
    np.testing.assert_array_equal(L1, L2)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))
    assert gX.grad is None and gy.grad is None


def test_plots_read_inputs_that_require_grad_as_values() -> None:
    X, y = ds.make_data(20, generator=3)
    a, b = ds.plot_sets(grad(X), grad(y)), ds.plot_sets(X, y)
    np.testing.assert_array_equal(a.axes[0].images[0].get_array(), b.axes[0].images[0].get_array())
    losses = torch.linspace(1.0, 0.1, 30)
    runs = {
        "tensor": grad(losses),
        "list of tensors": [grad(v) for v in losses],
        "seeds x steps": grad(torch.stack([losses, losses / 2])),
    }
    fig = ds.plot_losses(runs, window=1)
    lines = fig.axes[0].get_lines()
    for line in lines[:2]:
        np.testing.assert_allclose(line.get_ydata(), losses.numpy(), rtol=1e-6)
    np.testing.assert_allclose(lines[2].get_ydata(), (losses * 0.75).numpy(), rtol=1e-6)


# --- wider: non-finite weights, integer tokens, a model that is not a module --------------------


def broken(value: float, where: str = "rho") -> ds.DeepSet:
    """A DeepSet with one NaN or infinite weight (as a diverged run leaves it)."""
    torch.manual_seed(0)
    m = ds.DeepSet()
    with torch.no_grad():
        getattr(m, where)[0].weight[0, 0] = value
    return m


def nonfinite_weights_calls(value: float, tmp: str) -> dict[str, tuple[Callable[[], object], str]]:
    return {
        "train": (lambda: ds.train(broken(value), 3, seed=0), "models[0].rho.0.weight[0, 0]"),
        "train_many second": (
            lambda: ds.train_many([ds.DeepSet(), broken(value, "phi")], 3, seeds=[0, 1]),
            "models[1].phi.0.weight[0, 0]",
        ),
        "train_on mse": (
            lambda: ds.train_on([broken(value)], X8, Y8, 3, loss="mse"),
            "models[0].rho.0.weight",
        ),
        "evaluate": (lambda: ds.evaluate(broken(value), X8, Y8), "model.rho.0.weight[0, 0]"),
        "check_invariance": (
            lambda: ds.check_invariance(broken(value), X8, rng=0),
            "models.rho.0.weight",
        ),
        "check_invariance dict": (
            lambda: ds.check_invariance({"ok": ds.DeepSet(), "bad": broken(value)}, X8, rng=0),
            "models['bad'].rho.0.weight",
        ),
        "export_onnx": (lambda: ds.export_onnx(broken(value), tmp), "model.rho.0.weight"),
    }


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("entry", sorted(nonfinite_weights_calls(0.0, "")))
def test_nonfinite_weights_refused(
    entry: str, value: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_work(monkeypatch)
    out = f"{tmp_path}/model.onnx"
    call, name = nonfinite_weights_calls(value, out)[entry]
    refused(call, name, "finite")
    assert not list(tmp_path.iterdir())  # nothing written


class FirstToken(nn.Module):
    """Reads the first object's token only: order-dependent, on integer X."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.scale * X[:, 0].to(self.scale.dtype)  # (B, 1)


class TokenSum(nn.Module):
    """An embedding summed over the objects: invariant on integer X."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.out = nn.Embedding(10, 3), nn.Linear(3, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(X[..., 0]).sum(1))  # (B, 1)


def test_check_invariance_takes_integer_tokens() -> None:
    """Digit tokens (integer X) are permuted as floats are: a token sum does not move, a model
    of the first token moves exactly as the permuted first column says."""
    X, _, _ = ds.tasks.digit_sum(16, (10, 10), generator=4)  # (16, 10, 1) int64
    check = ds.check_invariance({"sum": TokenSum(), "first": FirstToken()}, X, 4, rng=5)
    assert check.max_change["sum"] < 1e-5
    first = X[:, :, 0].numpy().astype(np.float64)  # (B, N)
    expected = np.stack([first[:, 0]] + [first[:, p[0]] for p in check.permutations])
    np.testing.assert_array_equal(check.outputs["first"], expected)
    assert check.max_change["first"] == np.abs(expected[1:] - expected[0]).max() > 0
    refused(lambda: ds.check_invariance(TokenSum(), X.bool()), "X", "bool")


@pytest.mark.parametrize("model", ["DeepSet", None, ds.DeepSet, [ds.DeepSet()]])
def test_evaluate_names_a_model_that_is_not_a_module(model: object) -> None:
    refused(lambda: ds.evaluate(model, X8, Y8), "model must be a torch.nn.Module")


def test_bfloat16_model_trains_and_reports_its_losses() -> None:
    """A bfloat16 DeepSet trains to the end and its losses come back as numbers (numpy has no
    bfloat16): its first loss is the mean BCE of its own outputs on the first batch."""
    torch.manual_seed(0)
    model = ds.DeepSet().to(torch.bfloat16)
    first = copy.deepcopy(model).float()
    _, losses = ds.train(model, 3, seed=7, batch_size=20)
    assert losses.dtype == np.float64 and np.isfinite(losses).all()
    X, y = next(ds.data.chunks(1, 20, generator=torch.Generator().manual_seed(7)))
    p = first.eval()(X[0].to(torch.bfloat16).float())
    bce = torch.nn.functional.binary_cross_entropy(p, y[0].float()).item()
    assert losses[0] == pytest.approx(bce, abs=0.02)  # bfloat16 keeps 8 bits of mantissa


@pytest.mark.parametrize("index", [(0, 0, 0), (1, 4, 2), (1, 2, 1)])
def test_mixture_nll_refuses_nonfinite_targets(index: tuple[int, ...]) -> None:
    """A NaN in the mask channel used to read as padding: the loss of an empty set, -0."""
    y = poisoned(torch.zeros(2, 5, 3), index, float("nan"))
    refused(
        lambda: ds.tasks.mixture_nll(torch.zeros(2, 4, 4), y), f"y[{', '.join(map(str, index))}]"
    )
