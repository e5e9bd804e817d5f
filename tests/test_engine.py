"""The training engine (train, train_many, deepsets.engine) against a plain training loop.

Training is compared over a hundred or so steps: the stacked and the plain computations round
differently in the last bit, and the escape of a DeepSet from its ln 2 plateau amplifies any
such difference exponentially, so after thousands of steps two correct implementations agree
in distribution, not to 1e-5.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
import warnings

import numpy as np
import pytest
import torch
from batches import batches
from torch import nn
from torch.nn import functional as F

from deepsets import make_padded_data
from deepsets.data import CHUNK, make_data
from deepsets.engine.families import ModuleStack, StackedDeepSet, StackedMLP, stack_models
from deepsets.engine.parts import STACK_VALUES, partition, values
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many, train_on
from deepsets.models import DeepSet, Rho, make_mlp
from deepsets.models.activation import FastTanh
from deepsets.training import train

STEPS = 100
TOL = 1e-5  # float32 against float32, before any plateau escape
TOL64 = 1e-9  # float64 against float64, through the plateau escape


class Wrapped(nn.Module):
    """A model no stack knows: it trains through its own forward."""

    def __init__(self, generator: int) -> None:
        super().__init__()
        self.inner = DeepSet(generator=generator)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.inner(X)


MIXED = [
    (lambda g: DeepSet(generator=g), 0),
    (lambda g: DeepSet(activation=None, pooling="mean", generator=g), 1),
    (lambda g: DeepSet(latent=3, pooling="max", generator=g), 2),
    (lambda g: DeepSet(hidden=3, rho=Rho(activation="relu"), generator=g), 0),
    (lambda g: DeepSet(generator=g), 1),  # a second member of the first architecture
    (lambda g: make_mlp((4,), generator=g), 1),
    (lambda g: make_mlp((20, 20), generator=g), 0),
    (lambda g: make_mlp((16, 16), "tanh", generator=g), 3),
    (lambda g: make_mlp((8, 4), generator=g), 0),
    (lambda g: make_mlp((4,), generator=g), 2),  # a second member of an MLP stack
    (lambda g: make_mlp((8,), generator=g), 5),  # its own stack
    (lambda g: make_mlp((6, 3), "sigmoid", generator=g), 6),
    (lambda g: Wrapped(g), 4),  # no stack knows it: trained through its own forward
]


def max_diff(a: nn.Module, b: nn.Module) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max((p - q).abs().max().item() for p, q in pairs)


@pytest.fixture(scope="module")
def mixed():
    """The MIXED models trained together, and copies of their initial weights."""
    models = [f(100 + i).double() for i, (f, _) in enumerate(MIXED)]
    initial = [copy.deepcopy(m) for m in models]
    seeds = [s for _, s in MIXED]
    out, losses = train_many(models, STEPS, seeds=seeds, engine=Engine(progress=False))
    return models, initial, seeds, out, losses


def test_returns_the_same_objects_in_order(mixed):
    models, _, _, out, losses = mixed
    assert all(a is b for a, b in zip(out, models, strict=True))
    assert losses.shape == (len(MIXED), STEPS) and losses.dtype == np.float64
    assert not any(m.training for m in out)


@pytest.mark.parametrize("k", range(len(MIXED)))
def test_member_equals_the_plain_loop(mixed, k):
    """Each member, trained in its stack, against `train` (the plain loop) on the model alone
    (in float64, so that the stacks' other rounding and FastTanh stay far below TOL64)."""
    models, initial, seeds, _, losses = mixed
    alone, alone_losses = train(copy.deepcopy(initial[k]), STEPS, seed=seeds[k], progress=False)
    assert max_diff(models[k], initial[k]) > 1e-3, "the member did not train"
    assert max_diff(models[k], alone) < TOL64
    np.testing.assert_allclose(losses[k], alone_losses, atol=TOL64, rtol=0)


def test_train_many_of_one_follows_train_in_float32():
    a, b = DeepSet(generator=1), DeepSet(generator=1)
    _, la = train(a, 50, seed=3, progress=False)
    _, lb = train_many([b], 50, seeds=[3], engine=Engine(progress=False))
    np.testing.assert_allclose(la, lb[0], atol=TOL, rtol=0)
    assert max_diff(a, b) < TOL


def test_the_comparison_can_fail(mixed):
    """Another data stream changes an MLP's losses; another initialisation a DeepSet's weights.

    (A DeepSet's loss does not depend on the stream at all: every set of a class is a
    permutation of every other, so an invariant model sees only the labels.)
    """
    models, initial, seeds, _, losses = mixed
    mlp = next(k for k, m in enumerate(models) if isinstance(m, nn.Sequential))
    _, other = plain_train(copy.deepcopy(initial[mlp]), STEPS, seed=seeds[mlp] + 7)
    assert np.abs(losses[mlp] - np.asarray(other)).max() > 1e4 * TOL64
    twin = copy.deepcopy(initial[4])  # the same architecture as member 0, its own init
    plain_train(twin, STEPS, seed=seeds[0])
    assert max_diff(models[0], twin) > 1e4 * TOL64
    _, slower = plain_train(copy.deepcopy(initial[0]), STEPS, seed=seeds[0], lr=1.001e-3)
    assert np.abs(losses[0] - np.asarray(slower)).max() > 100 * TOL64  # lr 0.1% off: caught


def test_same_seeds_same_results():
    make = [lambda: DeepSet(generator=5), lambda: make_mlp((8,), generator=5)]
    runs = []
    for _ in range(2):
        models = [f() for f in make]
        _, losses = train_many(models, 30, seeds=[3, 4], engine=Engine(progress=False))
        runs.append((losses, [torch.cat([p.flatten() for p in m.parameters()]) for m in models]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_variants_get_their_own_stacks():
    models = [DeepSet(), DeepSet(pooling="max"), DeepSet(activation=None), DeepSet()]
    assert [index for _, index in stack_models(models)] == [[0, 3], [1], [2]]


def test_models_are_grouped_into_stacks_by_architecture():
    models = [DeepSet(), make_mlp(8), DeepSet(), DeepSet(pooling="max"), make_mlp(8),
              make_mlp(9), Wrapped(0), Wrapped(0), DeepSet(activation=None), DeepSet(latent=2),
              DeepSet().double(), make_mlp(64), make_mlp(9, "sigmoid"), make_mlp((20, 20)),
              make_mlp((32, 17))]  # fmt: skip
    stacks = [(type(s), index) for s, index in stack_models(models)]
    assert stacks == [
        (StackedDeepSet, [0, 2]),  # the exercise's DeepSet
        (StackedMLP, [1, 4]),  # 8 units
        (StackedDeepSet, [3]),  # max pooling: another variant, another stack
        (StackedMLP, [5]),  # 9 units: another shape
        (ModuleStack, [6]),  # unknown modules train alone
        (ModuleStack, [7]),
        (StackedDeepSet, [8]),  # the affine phi
        (StackedDeepSet, [9]),  # another latent width: another shape
        (StackedDeepSet, [10]),  # float64: another stack
        (StackedMLP, [11]),  # 64 units: its own width
        (StackedMLP, [12]),  # another activation
        (StackedMLP, [13]),  # 20 x 20
        (StackedMLP, [14]),  # 32 x 17
    ]


def test_every_variant_stack_runs_as_its_members_forward():
    """Activations and poolings of every kind, two members each: every stack's output is its
    members' own forward's."""
    models = [DeepSet(activation=a, pooling=p, rho=Rho(activation=r), generator=k + 27 * j)
              for k, (a, p, r) in enumerate(itertools.product(
                  ("tanh", None, "relu"), ("sum", "mean", "max"), ("tanh", "relu")))
              for j in range(2)]  # fmt: skip
    stacks = stack_models(models)
    assert len(stacks) == len(models) // 2
    X, _, mask = make_padded_data(8, (5, 10), generator=0)  # (B, N, F), (B, N)
    for stack, index in stacks:
        K = len(index)
        p = stack.forward(iter(stack.init()), X.expand(K, *X.shape), mask.expand(K, *mask.shape))
        for k, i in enumerate(index):  # p (K, B)
            torch.testing.assert_close(p[k], models[i](X, mask)[:, 0], rtol=0, atol=1e-6)


def test_a_bad_model_stops_everything_before_any_training():
    """A logits model (no sigmoid) among good ones: a clear error and no weight changed."""
    logits = nn.Sequential(nn.Flatten(), nn.Linear(10, 1))
    with torch.no_grad():
        logits[1].bias.fill_(-3.0)  # outputs below 0 on any input near 0
    models = [DeepSet(generator=0), make_mlp(8, generator=0), logits]
    before = [copy.deepcopy(m.state_dict()) for m in models]
    with pytest.raises(ValueError, match=r"models\[2\] must output probabilities"):
        train_many(models, 5, seeds=[0, 1, 2], engine=Engine(progress=False))
    for m, b in zip(models, before, strict=True):
        assert all(torch.equal(b[k], v) for k, v in m.state_dict().items())


def test_a_diverging_run_warns_and_a_healthy_one_does_not():
    with pytest.warns(RuntimeWarning, match="lr=1000000.0 may be too large"):
        train(make_mlp(8, generator=0), 50, lr=1e6, seed=0, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, losses = train(make_mlp(8, generator=0), 50, seed=0, progress=False)
    assert losses[-1] < math.log(2) + 0.1


def test_the_callers_thread_count_is_restored():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(DeepSet(generator=0), 5, seed=0, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("progress", ["no", 0, 1.0])
def test_progress_must_be_a_bool_or_none(progress):
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        train(DeepSet(), 5, progress=progress)


def plain_train(
    model: nn.Module, steps: int, seed: int, lr: float = 1e-3
) -> tuple[nn.Module, list[float]]:
    """The exercise's loop: default Adam, one batch of the stream per step, loss.item() each."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    dtype = next(model.parameters()).dtype
    losses = []
    for X, y in batches(steps, 100, generator=seed):
        loss = F.binary_cross_entropy(model(X.to(dtype)), y.to(dtype))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


@pytest.mark.parametrize(
    "factory, steps",
    [(lambda: DeepSet(generator=0), 1000), (lambda: make_mlp((20, 20), generator=0), 300)],
    ids=["deepset", "mlp"],
)
def test_train_equals_a_float64_plain_loop(factory, steps):
    """The same maths as the plain loop, through the DeepSet's escape from its plateau.

    In float32 the stacked and plain computations round differently in the last bit and the
    escape amplifies that to ~1e-3 by step 300; in float64 the same amplification leaves them
    within 1e-9, so any real difference in the maths (data, loss, Adam) would show.
    """
    model = factory().double()
    ref, ref_losses = plain_train(copy.deepcopy(model), steps, seed=9)
    fast, losses = train(model, steps, seed=9, progress=False)
    assert losses[-1] < 0.9 * losses[0], "the run should learn (the DeepSet leaves ln 2)"
    assert max_diff(fast, ref) < TOL64
    np.testing.assert_allclose(losses, ref_losses, atol=TOL64, rtol=0)


def test_float32_train_follows_a_plain_loop_before_the_plateau_escape():
    model = DeepSet(generator=0)
    ref, ref_losses = plain_train(copy.deepcopy(model), 100, seed=9)
    fast, losses = train(model, 100, seed=9, progress=False)
    assert max_diff(fast, ref) < TOL
    np.testing.assert_allclose(losses, ref_losses, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "models, seeds, error, match",
    [
        ([DeepSet(), DeepSet()], [0], ValueError, "one seed per model"),
        ([], [], ValueError, "non-empty"),
        ([DeepSet(), "mlp"], [0, 1], TypeError, r"models\[1\]"),
        ([DeepSet()], [0.5], TypeError, "seeds"),
        ([DeepSet()], [-1], ValueError, "seeds"),
        # meta is refused as a device deepsets cannot compute on, before "one device"
        ([DeepSet(), DeepSet().to("meta")], [0, 1], ValueError, r"models\[1\] is on 'meta'"),
        ([DeepSet(), DeepSet().double()], [0, 1], ValueError, "one floating-point dtype"),
    ],
)
def test_bad_input_is_a_clear_error(models, seeds, error, match):
    with pytest.raises(error, match=match):
        train_many(models, 5, seeds=seeds, engine=Engine(progress=False))


def test_the_same_model_twice_is_an_error():
    m = DeepSet()
    with pytest.raises(ValueError, match="twice"):
        train_many([m, m], 5, seeds=[0, 1], engine=Engine(progress=False))


def test_train_many_leaves_every_parameter_its_own_memory():
    """train_many runs on stacked copies of the weights; afterwards each parameter owns its
    memory (safetensors refuses shared storage) and is the same Parameter object as before."""
    model = DeepSet(generator=3)
    before = list(model.parameters())
    train_many([model, DeepSet()], 10, batch_size=20, seeds=[0, 1], engine=Engine(progress=False))
    after = list(model.parameters())
    assert all(a is b for a, b in zip(before, after, strict=True))
    storages = {p.untyped_storage().data_ptr() for p in after}
    assert len(storages) == len(after)
    assert all(p.untyped_storage().nbytes() == p.numel() * p.element_size() for p in after)


def test_fast_tanh_is_tanh_forward_and_backward():
    x = torch.linspace(-12, 12, 2001, dtype=torch.float64, requires_grad=True)
    y = FastTanh.apply(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    ref = torch.tanh(x.detach())
    assert (y.detach() - ref).abs().max() < 1e-15
    assert (g - (1 - ref**2)).abs().max() < 1e-15
    x32 = x.detach().float()
    assert (FastTanh.apply(x32) - torch.tanh(x32)).abs().max() < 3e-7  # float32 rounding
    assert torch.autograd.gradcheck(FastTanh.apply, (x[::100].detach().requires_grad_(),))


def test_train_on_fixed_sets_equals_a_plain_full_batch_loop():
    """Model k, trained full-batch on its own sets, against the plain loop on those sets."""
    K, B = 3, 12
    X = torch.stack([make_data(B, generator=k)[0] for k in range(K)]).double()  # (K, B, N, F)
    y = torch.stack([make_data(B, generator=k)[1] for k in range(K)]).double()  # (K, B, 1)
    models = [DeepSet(generator=k).double() for k in range(K - 1)] + [
        make_mlp(8, generator=9).double()
    ]
    initial = [copy.deepcopy(m) for m in models]
    _, losses = train_on(models, (X, y), 150, lr=1e-2, engine=Engine(progress=False))
    for k, m0 in enumerate(initial):
        opt = torch.optim.Adam(m0.parameters(), lr=1e-2)
        for t in range(150):
            loss = F.binary_cross_entropy(m0(X[k]), y[k])
            opt.zero_grad()
            loss.backward()
            opt.step()
            assert abs(loss.item() - losses[k, t]) < TOL64
        assert max_diff(models[k], m0) < TOL64
    assert losses[:, -1].max() < losses[:, 0].min()  # they learned


@pytest.mark.parametrize(
    "X, y, match",
    [
        (torch.zeros(2, 4, 10, 1), torch.zeros(2, 4, 1), "K = 1"),
        (torch.zeros(1, 4, 10, 1), torch.zeros(1, 4), r"y must be a tensor \(1, 4, 1\)"),
        (torch.zeros(1, 4, 10, 1), torch.full((1, 4, 1), 2.0), "labels 0 or 1"),
        (torch.zeros(1, 0, 10, 1), torch.zeros(1, 0, 1), "B >= 1"),
    ],
)
def test_train_on_rejects_bad_sets_before_training(X, y, match):
    with pytest.raises(ValueError, match=match):
        train_on([DeepSet()], (X, y), 5, engine=Engine(progress=False))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=10**12), r"steps=1000000000000 .*would need about"),
        (dict(steps=5, batch_size=10**9), r"batch_size=1000000000 .*would need about"),
    ],
)
def test_sizes_that_cannot_fit_are_refused_before_any_allocation(kwargs, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        train(DeepSet(), progress=False, **kwargs)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("steps", [0, -1, 2.5])
def test_the_batches_check_their_arguments_at_the_call(steps):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        batches(steps, 10)  # no iteration needed: the error comes at the call


def test_the_divergence_warning_points_at_the_callers_line():
    with pytest.warns(RuntimeWarning) as record:
        train(make_mlp(8, generator=0), 20, lr=1e6, seed=0, progress=False)
    assert record[0].filename == __file__


def snapshot(models: list[nn.Module]) -> list[torch.Tensor]:
    return [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]


@pytest.mark.parametrize("n_models", [1, 2, 7])
def test_worker_threads_change_no_result(n_models):
    """The stacks shared out over 1, 2 or 3 workers train to the same bits (the stacks
    follow a rule of the models alone: engine/parts.py)."""
    make = [
        lambda g: DeepSet(generator=g),
        lambda g: make_mlp(8, generator=g),
        lambda g: DeepSet(pooling="max", generator=g),
        lambda g: make_mlp(64, generator=g),
    ]
    runs = []
    for workers in (1, 2, 3):
        models = [make[i % len(make)](i) for i in range(n_models)]
        seeds = list(range(n_models))
        _, losses = train_many(models, 30, seeds=seeds,
            engine=Engine(progress=False, workers=workers))
        runs.append((losses, snapshot(models)))
    for losses, weights in runs[1:]:
        np.testing.assert_array_equal(losses, runs[0][0])
        assert all(torch.equal(a, b) for a, b in zip(weights, runs[0][1], strict=True))


def test_partition_balances_the_stacks_and_keeps_every_model_once():
    models = [make_mlp(128, generator=i) for i in range(4)] + [
        DeepSet(generator=i) for i in range(4)
    ]
    models += [make_mlp(4, generator=i) for i in range(4)]
    parts = partition(models, 100, 10, 2)
    members = sorted(i for part in parts for _, index in part for i in index)
    assert members == list(range(len(models)))
    assert len(parts) == 2 and all(parts)
    big = partition([DeepSet(generator=i) for i in range(64)], 100, 10, 2)  # one big stack
    assert sorted(len(index) for part in big for _, index in part) == [32, 32]  # halved
    small = partition([make_mlp(4, generator=i) for i in range(3)], 100, 10, 2)  # tiny stack
    assert [[len(index) for _, index in part] for part in small] == [[3]]  # not worth halving
    many = partition([DeepSet(generator=i) for i in range(256)], 100, 10, 2)
    sizes = sorted(len(index) for part in many for _, index in part)
    assert sizes == [32] * 8 and [len(part) for part in many] == [4, 4]  # cache-sized stacks
    assert sorted(i for part in many for _, index in part for i in index) == list(range(256))
    assert 32 * values(DeepSet(), 100, 10) <= STACK_VALUES < 64 * values(DeepSet(), 100, 10)
    five = partition([DeepSet(generator=i) for i in range(5)], 100, 10, 2)
    assert sorted(len(index) for part in five for _, index in part) == [2, 3]  # worth it


def test_snapshots_are_the_models_partway_through_the_same_run():
    make = [lambda: DeepSet(generator=0), lambda: make_mlp(8, generator=1), lambda: Wrapped(2)]
    models = [f() for f in make]
    snapshots: dict = {CHUNK: None, 2 * CHUNK: None}  # a run of CHUNK steps draws the same data
    _, losses = train_many(
        models, 2 * CHUNK, seeds=[0, 1, 2], engine=Engine(progress=False, snapshots=snapshots)
    )
    halfway = [f() for f in make]
    _, first = train_many(halfway, CHUNK, seeds=[0, 1, 2], engine=Engine(progress=False))
    np.testing.assert_array_equal(losses[:, :CHUNK], first)
    for snap, ref in zip(snapshots[CHUNK], halfway, strict=True):
        assert max_diff(snap, ref) == 0 and not snap.training
    for snap, final in zip(snapshots[2 * CHUNK], models, strict=True):
        assert max_diff(snap, final) == 0 and snap is not final
    assert max_diff(snapshots[CHUNK][0], models[0]) > 1e-4  # the snapshot is not the end


@pytest.mark.parametrize("bad", [{0: None}, {61: None}, {1.5: None}, [30]])
def test_snapshot_steps_are_checked(bad):
    with pytest.raises((TypeError, ValueError), match="snapshots"):
        train_many([DeepSet()], 60, seeds=[0], engine=Engine(progress=False, snapshots=bad))
