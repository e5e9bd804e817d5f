"""Every public function of data, models, invariance, plots, device, weights and output, walked
through bad inputs: each gets a ValueError or TypeError whose message names the argument, at
once (under 2 s) and without allocating (under 200 MB), never a traceback from deep in torch."""

from __future__ import annotations

import re
import resource
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import deepsets as ds
from deepsets.checks import check_n_sets
from deepsets.data import check_n_objects
from deepsets.lab.output import check_out, staged
from deepsets.models import Rho
from deepsets.models.activation import check_activation, dense
from deepsets.models.mlp import MLPSpec, mlp_from_spec
from deepsets.models.pooling import check_mask, check_pooling
from deepsets.plots import smooth

NO_GPU = not torch.cuda.is_available()


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def refused(call, name: str) -> None:
    """`call()` raises a ValueError or TypeError matching `name`, in under 2 seconds, and the
    process's peak memory grows by less than 200 MB on the way (a refusal allocates nothing
    large; measured per call, so that libraries loaded on first use, such as fonts for a
    figure or bytecode compiled in a fresh environment, do not count)."""
    start, peak = time.perf_counter(), max_rss_mb()
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    assert time.perf_counter() - start < 2
    assert max_rss_mb() - peak < 200
    assert re.search(name, str(e.value)), str(e.value)


X4, Y4 = ds.make_data(4, generator=0)
SAVED: dict[str, object] = {}

# (call with one bad argument, the argument's name as the message must state it)
CASES = {
    # data
    "make_data N=0": (lambda: ds.make_data(0), "N"),
    "make_data N odd": (lambda: ds.make_data(7), "N"),
    "make_data N float": (lambda: ds.make_data(4.0), "N"),
    "make_data N bool": (lambda: ds.make_data(True), "N"),
    "make_data N str": (lambda: ds.make_data("4"), "N"),
    "make_data N=10**9": (lambda: ds.make_data(10**9), "N=1000000000"),
    "make_data N=2**70": (lambda: ds.make_data(2**70), "N=1180591620717411303424"),
    "make_data n_objects=4": (lambda: ds.make_data(4, n_objects=4), "n_objects"),
    "make_data n_objects=10**12": (lambda: ds.make_data(4, n_objects=10**12), "n_objects"),
    "make_data generator str": (lambda: ds.make_data(4, generator="0"), "generator"),
    "make_data generator<0": (lambda: ds.make_data(4, generator=-1), "generator"),
    "make_data generator=2**64": (lambda: ds.make_data(4, generator=2**64), "generator"),
    "make_data device gpu0": (lambda: ds.make_data(4, device="gpu0"), "device"),
    "make_data device banana": (lambda: ds.make_data(4, device="banana"), "device"),
    "make_data device 0": (lambda: ds.make_data(4, device=0), "device"),
    "make_batches T=0": (lambda: ds.make_batches(0, 4), "T"),
    "make_batches T=10**12": (lambda: ds.make_batches(10**12, 100), "T=1000000000000"),
    "make_batches B odd": (lambda: ds.make_batches(2, 5), "B"),
    "make_batches B=10**9": (lambda: ds.make_batches(1, 10**9), "B=1000000000"),
    "make_batches device": (lambda: ds.make_batches(1, 4, device="gpu0"), "device"),
    "make_padded_data sizes lo<5": (lambda: ds.make_padded_data(4, (4, 10)), r"sizes\[0\]"),
    "make_padded_data sizes lo>hi": (lambda: ds.make_padded_data(4, (10, 5)), "sizes"),
    "make_padded_data sizes int": (lambda: ds.make_padded_data(4, 5), "sizes"),
    "make_padded_data sizes str": (lambda: ds.make_padded_data(4, ("5", 9)), r"sizes\[0\]"),
    "make_padded_data sizes huge": (lambda: ds.make_padded_data(4, (5, 10**12)), "sizes"),
    "make_padded_data N=10**9": (lambda: ds.make_padded_data(10**9, (5, 10)), "N=1000000000"),
    "make_padded_data device": (lambda: ds.make_padded_data(4, (5, 9), device="x"), "device"),
    "make_padded_batches T": (lambda: ds.make_padded_batches(-1, 4, (5, 9)), "T"),
    "make_padded_batches B": (lambda: ds.make_padded_batches(1, 3, (5, 9)), "B"),
    "check_n_sets": (lambda: check_n_sets(-2, "batch_size"), "batch_size"),
    "check_n_objects": (lambda: check_n_objects(2.5), "n_objects"),
    # models
    "DeepSet hidden=0": (lambda: ds.DeepSet(0), "hidden"),
    "DeepSet hidden=10**5": (lambda: ds.DeepSet(10**5), "hidden=100000"),
    "DeepSet hidden str": (lambda: ds.DeepSet("5"), "hidden"),
    "DeepSet activation": (lambda: ds.DeepSet(activation="swish"), "activation"),
    "DeepSet activation list": (lambda: ds.DeepSet(activation=["tanh"]), "activation"),
    "DeepSet latent": (lambda: ds.DeepSet(latent=0), "latent"),
    "DeepSet latent huge": (lambda: ds.DeepSet(latent=10**10), "latent=10000000000"),
    "DeepSet pooling": (lambda: ds.DeepSet(pooling="avg"), "pooling"),
    "DeepSet pooling list": (lambda: ds.DeepSet(pooling=["sum"]), "pooling"),
    "DeepSet rho_hidden": (lambda: ds.DeepSet(rho=Rho(hidden=-1)), "rho.hidden"),
    "DeepSet rho_activation": (lambda: ds.DeepSet(rho=Rho(activation="elu")), "rho.activation"),
    "DeepSet in_features": (lambda: ds.DeepSet(in_features=1.0), "in_features"),
    "DeepSet generator": (lambda: ds.DeepSet(generator="seed"), "generator"),
    "DeepSet X list": (lambda: ds.DeepSet()([[[0.0]]]), "X"),
    "DeepSet X rank 2": (lambda: ds.DeepSet()(torch.zeros(4, 10)), "X"),
    "DeepSet X float64": (lambda: ds.DeepSet()(X4.double()), "X"),
    "DeepSet X int": (lambda: ds.DeepSet()(X4.long()), "X"),
    "DeepSet mask shape": (lambda: ds.DeepSet()(X4, torch.ones(4, 9, dtype=torch.bool)), "mask"),
    "DeepSet mask float": (lambda: ds.DeepSet()(X4, torch.ones(4, 10)), "mask"),
    "DeepSet.embed X": (lambda: ds.DeepSet().embed(torch.zeros(4)), "X"),
    "DeepSet phi int": (lambda: ds.DeepSet(phi=3, rho=nn.Linear(1, 1)), "phi"),
    "DeepSet rho missing": (lambda: ds.DeepSet(phi=nn.Linear(1, 1)), "rho"),
    "DeepSet modules and widths": (
        lambda: ds.DeepSet(8, phi=nn.Linear(1, 1), rho=nn.Linear(1, 1)),
        "hidden",
    ),
    "DeepSet modules and seed": (
        lambda: ds.DeepSet(phi=nn.Linear(1, 1), rho=nn.Linear(1, 1), generator=0),
        "generator",
    ),
    "DeepSet modules X rank 1": (
        lambda: ds.DeepSet(phi=nn.Linear(1, 1), rho=nn.Linear(1, 1))(torch.zeros(4)),
        "X",
    ),
    "train_many threads 0": (
        lambda: ds.train_many([ds.DeepSet()], 2, seeds=[0], engine=ds.Engine(threads=0)),
        "threads",
    ),
    "train_on threads str": (
        lambda: ds.train_on(
            [ds.DeepSet()], (X4, torch.ones(4, 1)), 2, engine=ds.Engine(threads="2")
        ),
        "threads",
    ),
    "make_mlp hidden=0": (lambda: ds.make_mlp(0), "hidden"),
    "make_mlp hidden list": (lambda: ds.make_mlp([5, -1]), r"hidden\[1\]"),
    "make_mlp hidden str": (lambda: ds.make_mlp("20"), "hidden"),
    "make_mlp hidden huge": (lambda: ds.make_mlp((10**5, 10**5)), "hidden=.100000, 100000"),
    "make_mlp activation": (lambda: ds.make_mlp(activation="Relu"), "activation"),
    "make_mlp n_objects": (lambda: ds.make_mlp(n_objects=3), "n_objects"),
    "make_mlp in_features": (lambda: ds.make_mlp(in_features=0), "in_features"),
    "make_mlp generator": (lambda: ds.make_mlp(generator=1.5), "generator"),
    "PermEquivariant in_features": (lambda: ds.PermEquivariant(0, 2), "in_features"),
    "PermEquivariant out_features": (lambda: ds.PermEquivariant(2, "3"), "out_features"),
    "PermEquivariant huge": (lambda: ds.PermEquivariant(10**6, 10**6), "in_features=1000000"),
    "PermEquivariant pooling": (lambda: ds.PermEquivariant(1, 2, "avg"), "pooling"),
    "PermEquivariant x float64": (lambda: ds.PermEquivariant(1, 2)(X4.double()), "x"),
    "PermEquivariant x rank 2": (lambda: ds.PermEquivariant(1, 2)(X4[:, :, 0]), "x"),
    "PermEquivariant x int": (lambda: ds.PermEquivariant(1, 2)(X4.int()), "x"),
    "PermEquivariant mask": (
        lambda: ds.PermEquivariant(1, 2)(X4, torch.ones(10, 4, dtype=torch.bool)),
        "mask",
    ),
    "pool rank 2": (lambda: ds.pool(torch.zeros(4, 10)), "h"),
    "pool rank 4": (lambda: ds.pool(torch.zeros(4, 10, 1, 1)), "h"),
    "pool list": (lambda: ds.pool([[[1.0]]]), "h"),
    "pool int": (lambda: ds.pool(torch.zeros(4, 10, 1, dtype=torch.long)), "h"),
    "pool mask shape": (lambda: ds.pool(X4, torch.ones(4, 9, dtype=torch.bool)), "mask"),
    "pool mask rank": (lambda: ds.pool(X4, torch.ones(4, 10, 1, dtype=torch.bool)), "mask"),
    "pool mask int": (lambda: ds.pool(X4, torch.ones(4, 10, dtype=torch.int8)), "mask"),
    "pool kind": (lambda: ds.pool(X4, kind="median"), "kind"),
    "check_pooling": (lambda: check_pooling(None), "pooling"),
    "check_mask": (lambda: check_mask(np.ones((4, 10), bool), X4), "mask"),
    "check_activation": (lambda: check_activation(3, "rho_activation"), "rho_activation"),
    "dense": (lambda: dense([0, 3], "tanh"), "in_features"),
    "dense width": (lambda: dense([2, 3.5, 1], "tanh"), "out_features"),
    "MLPSpec sizes": (lambda: MLPSpec((10, 0, 1), ("relu",)), r"sizes\[1\]"),
    "MLPSpec activations": (lambda: MLPSpec((10, 1), ("relu",)), "activations"),
    "mlp_from_spec huge": (lambda: mlp_from_spec(MLPSpec((10**6, 10**6, 1), (None,))), "sizes"),
    # invariance
    "check_invariance {}": (lambda: ds.check_invariance({}, X4), "models"),
    "check_invariance lambda": (lambda: ds.check_invariance(lambda x: x, X4), "models"),
    "check_invariance value": (lambda: ds.check_invariance({"f": max}, X4), r"models\['f'\]"),
    "check_invariance empty batch": (lambda: ds.check_invariance(ds.DeepSet(), X4[:0]), "X"),
    "check_invariance one object": (lambda: ds.check_invariance(ds.DeepSet(), X4[:, :1]), "X"),
    "check_invariance rank 2": (lambda: ds.check_invariance(ds.DeepSet(), X4[:, :, 0]), "X"),
    "check_invariance int X": (lambda: ds.check_invariance(ds.DeepSet(), X4.long()), "X"),
    "check_invariance k=0": (lambda: ds.check_invariance(ds.DeepSet(), X4, 0), "n_permutations"),
    "check_invariance k huge": (
        lambda: ds.check_invariance(ds.DeepSet(), X4, 10**12),
        "n_permutations=1000000000000",
    ),
    "check_invariance rng str": (lambda: ds.check_invariance(ds.DeepSet(), X4, rng="x"), "rng"),
    "check_invariance rng<0": (lambda: ds.check_invariance(ds.DeepSet(), X4, rng=-1), "rng"),
    "check_invariance wrong N": (
        lambda: ds.check_invariance({"MLP": ds.make_mlp()}, torch.zeros(2, 12, 1)),
        "could not take sets of shape",
    ),
    # plots
    "plot_sets X list": (lambda: ds.plot_sets([[0.0]], Y4), "X"),
    "plot_sets X rank 2": (lambda: ds.plot_sets(X4[:, :, 0], Y4), "X"),
    "plot_sets empty": (lambda: ds.plot_sets(X4[:0], Y4[:0]), "X"),
    "plot_sets y labels": (lambda: ds.plot_sets(X4, Y4 + 2), "y"),
    "plot_sets y shape": (lambda: ds.plot_sets(X4, Y4[:, 0]), "y"),
    "plot_sets max_sets": (lambda: ds.plot_sets(X4, Y4, max_sets=0), "max_sets"),
    "plot_losses {}": (lambda: ds.plot_losses({}), "runs"),
    "plot_losses list": (lambda: ds.plot_losses([1.0, 2.0]), "runs"),
    "plot_losses empty curve": (lambda: ds.plot_losses({"a": []}), r"runs\['a'\]"),
    "plot_losses rank 3": (lambda: ds.plot_losses({"a": np.ones((1, 1, 3))}), r"runs\['a'\]"),
    "plot_losses strings": (lambda: ds.plot_losses({"a": ["x", "y"]}), r"runs\['a'\]"),
    "plot_losses negative": (lambda: ds.plot_losses({"a": [1.0, -1.0]}), r"runs\['a'\]"),
    "plot_losses window": (lambda: ds.plot_losses({"a": [1.0]}, window=0), "window"),
    "plot_losses reference": (lambda: ds.plot_losses({"a": [1.0]}, reference=-1), "reference"),
    "plot_losses reference nan": (
        lambda: ds.plot_losses({"a": [1.0]}, reference=float("nan")),
        "reference",
    ),
    "plot_losses reference_label": (
        lambda: ds.plot_losses({"a": [1.0]}, reference=0.5, reference_label=5),
        "reference_label",
    ),
    "smooth window": (lambda: smooth(np.ones(3), 1.5), "window"),
    # device
    "resolve_device gpu0": (lambda: ds.resolve_device("gpu0"), "device"),
    "resolve_device empty": (lambda: ds.resolve_device(""), "device"),
    "resolve_device None": (lambda: ds.resolve_device(None), "device"),
    "resolve_device CPU": (lambda: ds.resolve_device("CPU"), "device"),
    # weights
    "save_model model": (lambda: ds.save_model(nn.Linear(2, 1), "/nonexistent/m"), "model"),
    "save_model layer": (
        lambda: ds.save_model(nn.Sequential(nn.Flatten(), nn.Linear(10, 2), nn.ELU()), "x"),
        "layer 2 .ELU",
    ),
    "save_model path": (lambda: ds.save_model(ds.DeepSet(), None), "path"),
    "save_model overwrite": (
        lambda: ds.save_model(ds.DeepSet(), "m", overwrite="yes"),
        "overwrite",
    ),
    "load_model path": (lambda: ds.load_model(3), "path"),
    "load_model missing": (lambda: ds.load_model("/nonexistent/m.safetensors"), "/nonexistent/m"),
    "load_model device": (lambda: ds.load_model("/nonexistent/m", device="gpu0"), "device"),
    # output
    "check_out out None": (lambda: check_out(None, False), "--out"),
    "check_out out .": (lambda: check_out(".", True), "--out"),
    "staged overwrite": (lambda: staged("runs/x", "yes").__enter__(), "overwrite"),
}

if NO_GPU:
    CASES["make_data device cuda"] = (lambda: ds.make_data(4, device="cuda"), "device 'cuda'")
    CASES["resolve_device cuda:1"] = (
        lambda: ds.resolve_device(torch.device("cuda:1")),
        "device 'cuda:1'",
    )
    CASES["load_model cuda"] = (lambda: ds.load_model("/nonexistent/m", device="cuda"), "cuda")


@pytest.mark.parametrize("case", CASES)
def test_a_bad_argument_gets_a_clear_error_naming_it(case):
    refused(*CASES[case])


def test_an_mlp_given_another_set_size_is_torchs_error_and_check_invariance_explains_it():
    # make_mlp returns a plain nn.Sequential (the exercise asks for one): its forward is torch's
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(2x12 and 10x20\)"):
        ds.make_mlp()(torch.zeros(2, 12, 1))


# hypothesis: whole families of bad values, not just the ones we thought of
NOT_POSITIVE_INT = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(1, 3), max_size=2).map(tuple).filter(lambda t: len(t) != 1),
)


@settings(max_examples=60, deadline=None)
@given(NOT_POSITIVE_INT)
def test_sizes_that_are_not_positive_integers_are_named(bad):
    for call, name in [
        (lambda: ds.DeepSet(hidden=bad), "hidden"),
        (lambda: ds.DeepSet(latent=bad), "latent"),
        (lambda: ds.PermEquivariant(bad, 2), "in_features"),
        (lambda: ds.make_batches(bad, 4), "T"),
        (lambda: ds.check_invariance(ds.DeepSet(), X4, bad), "n_permutations"),
        (lambda: ds.plot_losses({"a": [1.0]}, window=bad), "window"),
    ]:
        refused(call, name)


@settings(max_examples=60, deadline=None)
@given(st.one_of(NOT_POSITIVE_INT, st.integers(1, 10**6).map(lambda n: 2 * n - 1)))
def test_set_counts_that_are_not_positive_even_integers_are_named(bad):
    refused(lambda: ds.make_data(bad), "N must be a positive even integer")
    refused(lambda: ds.make_padded_data(bad, (5, 10)), "N must be a positive even integer")


@settings(max_examples=40, deadline=None)
@given(st.integers(10**10, 2**80))
def test_sizes_too_large_for_memory_are_refused_with_the_amount(n):
    refused(lambda: ds.make_data(2 * n), r"N=\d+.* would need about [\d.]+ [KMGTP]iB of memory")
    refused(lambda: ds.DeepSet(hidden=n), r"hidden=\d+.* would need about")


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=8).filter(lambda s: s not in ("auto", "cpu", "cuda")))
def test_device_strings_are_checked_by_resolve_device(device):
    for call in (
        lambda: ds.resolve_device(device),
        lambda: ds.make_data(4, device=device),
        lambda: ds.make_padded_data(4, (5, 6), device=device),
    ):
        refused(call, "device must be one of")


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(st.integers(1, 4), st.integers(0, 12)).filter(lambda s: s != (4, 10))
    | st.tuples(st.integers(1, 4))
)
def test_masks_of_the_wrong_shape_are_named(shape):
    mask = torch.ones(*shape, dtype=torch.bool)
    for call in (
        lambda: ds.pool(X4, mask),
        lambda: ds.DeepSet()(X4, mask),
        lambda: ds.PermEquivariant(1, 2)(X4, mask),
    ):
        refused(call, r"mask must have shape \(B, N\) = \(4, 10\)")


def test_good_inputs_at_the_edges_still_work():
    """The checks refuse only what is wrong: the smallest legal sizes all run."""
    X, y = ds.make_data(2, n_objects=5, generator=np.int64(3))
    assert X.shape == (2, 5, 1) and y.shape == (2, 1)
    assert ds.pool(torch.zeros(3, 0, 2)).shape == (3, 2)  # no objects: zeros
    assert ds.DeepSet(1, latent=1, rho=Rho(1))(X).shape == (2, 1)
    assert ds.check_invariance(ds.DeepSet(), X[:1, :2], 1, rng=np.int64(0)).max_change
    assert ds.resolve_device(torch.device("cpu")) == torch.device("cpu")
