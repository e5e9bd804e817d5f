"""Section 8's pieces: the unseen split, the shared full batch, steps to a loss, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from deepsets.data import all_sets
from deepsets.models import make_mlp
from deepsets.studies.exercise.plan import checkpoints
from deepsets.studies.exercise.sections import symmetry


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("M", [1, 2, 5, 50, 100, 119])
def test_the_unseen_split_never_overlaps_the_training_split(seed, M):
    X, y = all_sets()
    train, unseen = symmetry.split(symmetry.class_orders(y, seed), M)
    seen, rest = set(train.tolist()), set(unseen.tolist())
    assert len(seen) == 2 * M == len(train)  # without replacement
    assert seen.isdisjoint(rest) and seen | rest == set(range(372))
    assert int((y[train] == 0).sum()) == M == int((y[train] == 1).sum())
    assert int((y[unseen] == 0).sum()) == 120 - M and int((y[unseen] == 1).sum()) == 252 - M
    # as sets of objects too: no unseen arrangement equals a training one
    rows = {tuple(x) for x in X[train, :, 0].tolist()}
    assert rows.isdisjoint(tuple(x) for x in X[unseen, :, 0].tolist())


def test_splits_are_nested_in_m_and_differ_between_seeds():
    _, y = all_sets()
    orders = symmetry.class_orders(y, 3)
    small, large = symmetry.split(orders, 5)[0], symmetry.split(orders, 50)[0]
    assert set(small.tolist()) <= set(large.tolist())
    assert symmetry.split(symmetry.class_orders(y, 4), 5)[0].tolist() != small.tolist()
    assert torch.equal(symmetry.split(symmetry.class_orders(y, 3), 5)[0], small)  # reproducible


@pytest.mark.parametrize("M", [0, 120, 2.0, True])
def test_split_refuses_an_m_that_leaves_no_unseen_set(M):
    _, y = all_sets()
    with pytest.raises(ValueError, match="M must be an integer in 1..119"):
        symmetry.split(symmetry.class_orders(y, 0), M)


def test_repeating_a_training_set_keeps_its_loss_and_gradient():
    X, y = all_sets()
    _, y2 = all_sets()
    orders = symmetry.class_orders(y2, 0)
    small, large = symmetry.split(orders, 5)[0], symmetry.split(orders, 50)[0]
    bx, by = symmetry.training_sets(X, y, [small, large])  # (2, 100, 10, 1), (2, 100, 1)
    assert bx.shape == (2, 100, 10, 1) and torch.equal(bx[1], X[large])
    model = make_mlp((8,), "relu", generator=0).double()

    def loss_and_grad(x, t):
        model.zero_grad()
        loss = F.binary_cross_entropy(model(x.double()), t.double())
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters()]

    l1, g1 = loss_and_grad(X[small], y[small])  # the 10 distinct sets
    l2, g2 = loss_and_grad(bx[0], by[0])  # the same, each repeated 10 times
    assert l1 == pytest.approx(l2, rel=1e-12)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="must divide"):
        symmetry.training_sets(X, y, [small[:3], large])


def steps_below_by_loop(losses, threshold, window):
    """Step by step: the last step whose window mean is >= threshold, then one more."""
    last_above = None
    for t in range(window, len(losses) + 1):
        if np.mean(losses[t - window : t]) >= threshold:
            last_above = t
    if last_above is None:
        return window
    return None if last_above == len(losses) else last_above + 1


@pytest.mark.parametrize("seed", range(5))
def test_steps_below_matches_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    losses = np.exp(-np.linspace(0, 6, 400)) + rng.uniform(0, 0.02, 400)
    for threshold in (0.005, 0.02, 0.05, 0.5, 2.0):
        got = symmetry.steps_below(losses, threshold, 25)
        assert got == steps_below_by_loop(losses, threshold, 25), threshold


def test_steps_below_needs_the_loss_to_stay_below():
    losses = np.array([1.0] * 10 + [0.0] * 10 + [1.0] * 5 + [0.0] * 10)
    # the first dip does not count; the window ending at step 27 still holds three 1s (0.6)
    assert symmetry.steps_below(losses, 0.5, 5) == 28
    assert symmetry.steps_below(losses[:-1] * 0 + 1, 0.5, 5) is None


def test_checkpoints_and_the_first_all_correct():
    assert checkpoints(4000) == (250, 500, 1000, 2000, 4000)
    assert checkpoints(8) == (1, 2, 4, 8)
    acc = np.array([[0.9, 1.0], [1.0, 0.99], [1.0, 1.0]])  # (C, S)
    assert symmetry.first_all_correct(acc, [10, 20, 40]) == [20, 10]
    assert symmetry.first_all_correct(acc[:, :1] * 0.5, [10, 20, 40]) == [None]


@pytest.mark.parametrize("Ms", [symmetry.M_VALUES, symmetry.QUICK_M_VALUES, (3,), (50, 100)])
def test_call_groups_cover_every_m_once_and_share_a_batch_size(Ms):
    groups = symmetry.call_groups(Ms)
    assert sorted(M for g in groups for M in g) == sorted(Ms)
    for g in groups:  # training_sets repeats each set to the group's largest: it must divide it
        assert all(max(g) % M == 0 for M in g)
