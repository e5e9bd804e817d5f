"""train_many against one-at-a-time training, and the fast train against a plain loop.

Training is compared over a hundred or so steps: the stacked and the plain computations round
differently in the last bit, and the escape of a DeepSet from its ln 2 plateau amplifies any
such difference exponentially, so after thousands of steps two correct implementations agree
in distribution, not to 1e-5.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from deepsets.data import stream
from deepsets.ensemble import train_many
from deepsets.models import DeepSet, make_mlp
from deepsets.training import recommended_threads, train

STEPS = 100
TOL = 1e-5


def fresh(factory, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


MIXED = [
    (lambda: DeepSet(), 0),
    (lambda: DeepSet(activation=None, pooling="mean"), 1),
    (lambda: DeepSet(latent=3, pooling="max"), 2),
    (lambda: DeepSet(hidden=3, rho_activation="relu"), 0),
    (lambda: DeepSet(), 1),  # a second member of the first architecture
    (lambda: make_mlp((4,)), 1),
    (lambda: make_mlp((20, 20)), 0),
    (lambda: make_mlp((16, 16), "tanh"), 3),
    (lambda: make_mlp((8, 4)), 0),
    (lambda: make_mlp((4,)), 2),
]


def max_diff(a: nn.Module, b: nn.Module) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max((p - q).abs().max().item() for p, q in pairs)


@pytest.fixture(scope="module")
def mixed():
    """The MIXED models trained together, and copies of their initial weights."""
    models = [fresh(f, 100 + i) for i, (f, _) in enumerate(MIXED)]
    initial = [copy.deepcopy(m) for m in models]
    seeds = [s for _, s in MIXED]
    out, losses = train_many(models, STEPS, seeds=seeds, progress=False)
    return models, initial, seeds, out, losses


def test_returns_the_same_objects_in_order(mixed):
    models, _, _, out, losses = mixed
    assert all(a is b for a, b in zip(out, models, strict=True))
    assert losses.shape == (len(MIXED), STEPS) and losses.dtype == np.float64
    assert not any(m.training for m in out)


@pytest.mark.parametrize("k", range(len(MIXED)))
def test_member_equals_the_model_trained_alone(mixed, k):
    models, initial, seeds, _, losses = mixed
    alone, alone_losses = train(copy.deepcopy(initial[k]), STEPS, seed=seeds[k], progress=False)
    assert max_diff(models[k], initial[k]) > 1e-3, "the member did not train"
    assert max_diff(models[k], alone) < TOL
    np.testing.assert_allclose(losses[k], alone_losses, atol=TOL, rtol=0)


def test_the_comparison_can_fail(mixed):
    """Another data stream changes an MLP's losses; another initialisation a DeepSet's weights.

    (A DeepSet's loss does not depend on the stream at all: every set of a class is a
    permutation of every other, so an invariant model sees only the labels.)
    """
    models, initial, seeds, _, losses = mixed
    mlp = next(k for k, m in enumerate(models) if isinstance(m, nn.Sequential))
    _, other = train(copy.deepcopy(initial[mlp]), STEPS, seed=seeds[mlp] + 7, progress=False)
    assert np.abs(losses[mlp] - other).max() > 100 * TOL
    twin = copy.deepcopy(initial[4])  # the same architecture as member 0, its own init
    train(twin, STEPS, seed=seeds[0], progress=False)
    assert max_diff(models[0], twin) > 100 * TOL


def test_same_seeds_same_results():
    make = [lambda: DeepSet(), lambda: make_mlp((8,))]
    runs = []
    for _ in range(2):
        models = [fresh(f, 5) for f in make]
        _, losses = train_many(models, 30, seeds=[3, 4], progress=False)
        runs.append((losses, [torch.cat([p.flatten() for p in m.parameters()]) for m in models]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


class Wrapped(nn.Module):
    """A model train_many cannot stack: it must fall back to train."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = DeepSet()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.inner(X)


def test_other_modules_fall_back_to_train():
    a, b = fresh(Wrapped, 1), fresh(DeepSet, 2)
    a0, b0 = copy.deepcopy(a), copy.deepcopy(b)
    _, losses = train_many([a, b], 20, seeds=[0, 1], progress=False)
    _, la = train(a0, 20, seed=0, progress=False)
    _, lb = train(b0, 20, seed=1, progress=False)
    assert max_diff(a, a0) < TOL and max_diff(b, b0) < TOL
    np.testing.assert_allclose(losses, np.stack([la, lb]), atol=TOL, rtol=0)


def plain_train(model: nn.Module, steps: int, seed: int) -> tuple[nn.Module, list[float]]:
    """The exercise's loop: default Adam, one batch of the stream per step, loss.item() each."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for X, y in stream(steps, 100, generator=seed):
        loss = F.binary_cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


@pytest.mark.parametrize(
    "factory, steps", [(DeepSet, 1000), (lambda: make_mlp((20, 20)), 300)], ids=["deepset", "mlp"]
)
def test_fast_train_equals_a_plain_loop(factory, steps):
    """The same maths as the plain loop, through the DeepSet's escape from its plateau.

    (The multi-tensor Adam computes what the default one does, bit for bit on a CPU; a fused
    Adam would round differently, and the plateau escape would amplify that to ~1e-2.)
    """
    model = fresh(factory, 0)
    ref, ref_losses = plain_train(copy.deepcopy(model), steps, seed=9)
    fast, losses = train(model, steps, seed=9, progress=False)
    assert losses[-1] < 0.9 * losses[0], "the run should learn (the DeepSet leaves ln 2)"
    assert max_diff(fast, ref) < TOL
    np.testing.assert_allclose(losses, ref_losses, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "models, seeds, error, match",
    [
        ([DeepSet(), DeepSet()], [0], ValueError, "one seed per model"),
        ([], [], ValueError, "non-empty"),
        ([DeepSet(), "mlp"], [0, 1], TypeError, r"models\[1\]"),
        ([DeepSet()], [0.5], TypeError, "integer"),
    ],
)
def test_bad_input_is_a_clear_error(models, seeds, error, match):
    with pytest.raises(error, match=match):
        train_many(models, 5, seeds=seeds, progress=False)


def test_the_same_model_twice_is_an_error():
    m = DeepSet()
    with pytest.raises(ValueError, match="twice"):
        train_many([m, m], 5, seeds=[0, 1], progress=False)


def test_recommended_threads_is_a_usable_count():
    n = recommended_threads()
    assert isinstance(n, int) and 1 <= n <= (os.cpu_count() or 1)


def _snapshot(models: list[nn.Module]) -> list[torch.Tensor]:
    return [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in models]


def test_worker_threads_do_not_change_results():
    """Stacks split over worker threads train exactly as in one thread."""
    make = [DeepSet, lambda: DeepSet(pooling="max"), lambda: make_mlp((8,)), lambda: make_mlp(64)]
    runs = []
    for workers in (1, 2):
        models = [fresh(f, 7 + i) for i, f in enumerate(make)]
        _, losses = train_many(models, 40, seeds=[0, 1, 2, 3], progress=False, workers=workers)
        runs.append((losses, _snapshot(models)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_padded_stacks_leave_every_width_its_own():
    """Narrow MLPs share a zero-padded stack: each still trains as it would alone, keeps its
    shape, and a different pooling in the same DeepSet stack still pools its own way."""
    make = [lambda: make_mlp((4, 8)), lambda: make_mlp((16, 12)), lambda: make_mlp((8, 4)),
            lambda: DeepSet(pooling="mean"), lambda: DeepSet(pooling="max")]  # fmt: skip
    models = [fresh(f, 20 + i) for i, f in enumerate(make)]
    initial = [copy.deepcopy(m) for m in models]
    _, losses = train_many(models, 50, seeds=[4, 5, 6, 4, 5], progress=False, workers=1)
    for k, (m, m0) in enumerate(zip(models, initial, strict=True)):
        assert [p.shape for p in m.parameters()] == [p.shape for p in m0.parameters()]
        alone, alone_losses = train(copy.deepcopy(m0), 50, seed=[4, 5, 6, 4, 5][k], progress=False)
        assert max_diff(m, alone) < TOL, f"member {k}"
        np.testing.assert_allclose(losses[k], alone_losses, atol=TOL, rtol=0)


def test_bad_workers_is_a_clear_error():
    with pytest.raises(ValueError, match="workers"):
        train_many([DeepSet()], 5, seeds=[0], progress=False, workers=0)


def test_train_leaves_every_parameter_its_own_memory():
    """train runs on one flat copy of the weights; afterwards each parameter owns its memory
    again (safetensors refuses shared storage) and is the same Parameter object as before."""
    model = fresh(DeepSet, 3)
    before = list(model.parameters())
    train(model, 10, batch_size=20, seed=0, progress=False)
    after = list(model.parameters())
    assert all(a is b for a, b in zip(before, after, strict=True))
    storages = {p.untyped_storage().data_ptr() for p in after}
    assert len(storages) == len(after)
    assert all(p.untyped_storage().nbytes() == p.numel() * p.element_size() for p in after)
