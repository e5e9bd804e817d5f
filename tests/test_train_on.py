"""`train_on`: the engine on given training sets, against plain float64 loops.

Each test trains with the engine and with a plain per-model Adam loop on the same data (and,
for drawn batches, the same indices from the same generator), and compares every loss and
weight. Shapes: K models, B sets, b sets a step, N objects, F features.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from deepsets import DeepSet, load_model, save_model
from deepsets.engine.losses import LOSSES
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_on
from deepsets.models.deepset import Rho
from deepsets.models.equivariant import PermEquivariant

LINEAR = Rho(output=None)  # rho ends with its Linear: a real output

TOL64 = 1e-9


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(
        (p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


def plain(model, X, y, steps, loss, lr, mask=None, index=None):
    """Adam on `model` alone; `index` (steps, b) picks each step's sets, None all of them."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        i = slice(None) if index is None else index[t]
        args = (X[i],) if mask is None else (X[i], mask[i])
        value = LOSSES[loss](model(*args), y[i])
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    return losses


def regression_sets(B=16, N=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(B, N, 1, generator=g, dtype=torch.float64)  # (B, N, F)
    mask = torch.rand(B, N, generator=g) < 0.7  # (B, N)
    y = (X[..., 0] * mask).sum(1, keepdim=True) ** 2  # (B, 1): not linear in the sum
    return X, y, mask


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_shared_sets_full_batch_regression_equals_plain_loops(loss):
    X, y, mask = regression_sets()
    models = [DeepSet(4, latent=2, rho=Rho(output=None), generator=k).double() for k in range(3)]
    initial = [copy.deepcopy(m) for m in models]
    _, losses = train_on(
        models, (X, y, mask), 60, lr=1e-2, loss=loss, engine=Engine(progress=False)
    )
    for k, m0 in enumerate(initial):
        ref = plain(m0, X, y, 60, loss, 1e-2, mask)
        assert max(abs(a - b) for a, b in zip(ref, losses[k], strict=True)) < TOL64
        assert max_diff(models[k], m0) < TOL64
    assert losses[:, -1].max() < losses[:, 0].min()  # they learned


def test_drawn_batches_are_each_models_own_and_equal_plain_loops():
    X, y, mask = regression_sets(B=40)
    models = [DeepSet(3, rho=Rho(output=None), generator=k).double() for k in range(2)]
    initial = [copy.deepcopy(m) for m in models]
    steps, b, seeds = 50, 8, [11, 12]
    _, losses = train_on(models, (X, y, mask), steps, lr=1e-2, loss="mse", batch_size=b,
        seeds=seeds, engine=Engine(progress=False))  # fmt: skip
    for k, m0 in enumerate(initial):
        index = torch.randint(40, (steps, b), generator=torch.Generator().manual_seed(seeds[k]))
        ref = plain(m0, X, y, steps, "mse", 1e-2, mask, index)
        assert max(abs(a - r) for a, r in zip(ref, losses[k], strict=True)) < TOL64
        assert max_diff(models[k], m0) < TOL64
    assert abs(losses[0] - losses[1]).max() > 1e-3  # different draws: the test can fail


class TokenSum(nn.Module):
    """Embedding of integer tokens, summed over the set: X (B, N, 1) int64 -> (B, 1)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(10, 3, dtype=torch.float64)
        self.rho = nn.Linear(3, 1, dtype=torch.float64)

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(X[..., 0]) * mask.unsqueeze(-1)  # (B, N, 3)
        return self.rho(h.sum(1))  # (B, 1)


def test_integer_tokens_reach_any_module_unchanged():
    g = torch.Generator().manual_seed(3)
    X = torch.randint(1, 10, (30, 5, 1), generator=g)  # (B, N, 1) tokens
    mask = torch.rand(30, 5, generator=g) < 0.8
    y = (X[..., 0] * mask).sum(1, keepdim=True).double()  # (B, 1) sums
    with torch.random.fork_rng():
        models = [TokenSum(k) for k in range(2)]
    initial = [copy.deepcopy(m) for m in models]
    _, losses = train_on(
        models, (X, y, mask), 40, lr=5e-2, loss="mae", engine=Engine(progress=False)
    )
    for k, m0 in enumerate(initial):
        ref = plain(m0, X, y, 40, "mae", 5e-2, mask)
        assert max(abs(a - r) for a, r in zip(ref, losses[k], strict=True)) < TOL64
    assert losses[:, -1].max() < losses[:, 0].min()


def test_per_element_targets_train_a_generic_module():
    """Targets (B, N) per object: an equivariant net, through the generic path."""
    g = torch.Generator().manual_seed(4)
    X = torch.rand(2, 24, 5, 1, generator=g, dtype=torch.float64)  # (K, B, N, F)
    y = (X[..., 0] > X[..., 0].mean(-1, keepdim=True)).double()  # (K, B, N)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        models = [
            nn.Sequential(PermEquivariant(1, 4), nn.Tanh(), PermEquivariant(4, 1), nn.Flatten(1),
                          nn.Sigmoid()).double()
            for _ in range(2)
        ]  # fmt: skip
    initial = [copy.deepcopy(m) for m in models]
    _, losses = train_on(models, (X, y), 30, lr=1e-2, engine=Engine(progress=False))
    for k, m0 in enumerate(initial):
        ref = plain(m0, X[k], y[k], 30, "bce", 1e-2)
        assert max(abs(a - r) for a, r in zip(ref, losses[k], strict=True)) < TOL64
        assert max_diff(models[k], m0) < TOL64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(loss="hinge"), "loss must be one of"),
        (dict(loss="bce"), "labels 0 or 1"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (
            dict(mask=torch.ones(16, 5, dtype=torch.bool)),
            r"mask must be a boolean tensor \(16, 6\)",
        ),
        (dict(mask=None, extra=True), r"sets must be a pair \(X, y\) or a triple"),
        (dict(seeds=[1]), "seeds must be a list of one seed per model"),
    ],
)
def test_bad_arguments_are_refused_before_training(kwargs, match):
    X, y, _ = regression_sets()
    args = dict(loss="mse") | kwargs
    with pytest.raises(ValueError, match=match):
        sets = (X, y) if "mask" not in args else (X, y, args.pop("mask"))
        if args.pop("extra", False):
            sets = (*sets, None, X)
        train_on([DeepSet(rho=LINEAR), DeepSet(rho=LINEAR)], sets, 5,
                 engine=Engine(progress=False), **args)  # fmt: skip


def test_snapshots_are_the_models_partway_through_the_same_run():
    X, y, mask = regression_sets()
    models = [DeepSet(4, rho=LINEAR, generator=k).double() for k in range(2)]
    twins = [copy.deepcopy(m) for m in models]
    snaps: dict[int, list[nn.Module]] = {7: []}
    train_on(models, (X, y, mask), 20, loss="mse", engine=Engine(snapshots=snaps, progress=False))
    train_on(twins, (X, y, mask), 7, loss="mse", engine=Engine(progress=False))
    for snap, twin, end in zip(snaps[7], twins, models, strict=True):
        assert max_diff(snap, twin) < TOL64 < max_diff(snap, end)


def test_a_target_shape_the_models_do_not_give_is_refused():
    X, _, _ = regression_sets()
    with pytest.raises(ValueError, match=r"must map \(B, N, F\) to \(B, 6\), got \(2, 1\)"):
        train_on(
            [DeepSet(rho=LINEAR)], (X, X[..., 0]), 5, loss="mse", engine=Engine(progress=False)
        )


def test_a_regression_deepset_has_no_sigmoid_and_saves(tmp_path):
    model = DeepSet(rho=LINEAR, generator=0)
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())
    X = torch.full((1, 3, 1), 40.0)
    assert model(X).abs().item() > 0 and DeepSet(generator=0)(X).item() < 1
    back = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert torch.equal(back(X), model(X))
    with pytest.raises(ValueError, match="output must be 'sigmoid' or None"):
        DeepSet(rho=Rho(output="softmax"))


class Shared(nn.Module):
    """A submodule registered under two names, and a weight tied between two Linears."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(1, 3)
        self.phi = nn.Sequential(self.encoder, nn.Tanh())  # phi.0 is encoder
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)
        self.b.weight = self.a.weight  # tied
        self.rho = nn.Linear(3, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = self.b(torch.tanh(self.a(self.phi(X)))).sum(1)  # (B, 3)
        return self.rho(h)  # (B, 1)


def test_shared_submodules_and_tied_weights_train_as_in_a_plain_loop():
    X, y, _ = regression_sets()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Shared().double()
    m0 = copy.deepcopy(model)
    _, losses = train_on([model], (X, y), 40, lr=1e-2, loss="mse", engine=Engine(progress=False))
    ref = plain(m0, X, y, 40, "mse", 1e-2)
    assert max(abs(a - r) for a, r in zip(ref, losses[0], strict=True)) < TOL64
    assert all(p.is_leaf for p in model.parameters())  # its own parameters, not views
    assert model.b.weight is model.a.weight and model.phi[0] is model.encoder
    assert max_diff(model, m0) < TOL64
    torch.optim.Adam(model.parameters())  # trainable again by the user's own loop


def test_an_mlp_with_several_outputs_trains_on_all_of_them_as_in_a_plain_loop():
    """The stacked MLP gives one number a set; an MLP with three outputs trains through its own
    forward, every output in the loss (once only the first was, and the loss did not match)."""
    g = torch.Generator().manual_seed(3)
    X = torch.rand(40, 10, 1, generator=g, dtype=torch.float64)
    y = (torch.rand(40, 3, generator=g) < 0.5).double()
    model = nn.Sequential(nn.Flatten(), nn.Linear(10, 4), nn.ReLU(), nn.Linear(4, 3), nn.Sigmoid())
    model = model.double()
    m0 = copy.deepcopy(model)
    _, losses = train_on([model], (X, y), 50, lr=1e-2, engine=Engine(progress=False))
    ref = plain(m0, X, y, 50, "bce", 1e-2)
    assert max(abs(a - b) for a, b in zip(ref, losses[0], strict=True)) < TOL64
    assert max_diff(model, m0) < TOL64


@pytest.mark.parametrize("workers", [1, 2])
def test_outputs_turning_nan_mid_training_name_the_step_and_the_model(workers):
    """Weights that diverge (lr=1e38: inf - inf) in the second model of a stack."""
    from deepsets import make_data, make_mlp

    X, y = make_data(200, generator=0)
    models = [make_mlp(), DeepSet(generator=0)]
    with pytest.raises(ValueError, match=r"models\[1\]'s outputs turned NaN at step \d+ of 20"):
        train_on(models, (X, y), 20, lr=1e38, engine=Engine(workers=workers))
