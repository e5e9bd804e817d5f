"""Training on sets of varying size: padded batches, masked training, train_many with sizes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from batches import batches
from torch.nn import functional as F

import deepsets as ds
from deepsets.data import make_padded_batches
from deepsets.engine.train import train_many


def test_padded_batches_are_each_balanced_and_follow_the_class_rule():
    X, y, mask = make_padded_batches(4, 50, (5, 12), generator=3)
    assert X.shape == (4, 50, 12, 1) and y.shape == (4, 50, 1) and mask.shape == (4, 50, 12)
    assert (y.sum(dim=(1, 2)) == 25).all()
    n = mask.sum(dim=-1)  # (T, B)
    assert n.min() >= 5 and n.max() <= 12
    assert (X[..., 0][~mask] == 0).all()
    nonzero = (X[..., 0] > 0).sum(dim=-1)  # (T, B)
    assert torch.equal(nonzero, torch.where(y[..., 0] == 1, 5, 3))
    assert torch.allclose(X.sum(dim=(2, 3)), torch.ones(4, 50))


def test_stream_of_padded_sets_is_reproducible():
    a = list(batches(7, 10, sizes=(5, 9), generator=1))
    b = list(batches(7, 10, sizes=(5, 9), generator=1))
    assert len(a) == 7
    for (Xa, ya, ma), (Xb, yb, mb) in zip(a, b, strict=True):
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb) and torch.equal(ma, mb)


def test_masked_training_equals_a_plain_loop_over_the_same_batches():
    torch.manual_seed(0)
    model = ds.DeepSet()
    reference = copy.deepcopy(model)
    _, losses = ds.train(model, 30, batch_size=20, seed=5, sizes=(5, 15))
    opt = torch.optim.Adam(reference.parameters(), lr=1e-3)
    expected = []
    for X, y, mask in batches(30, 20, sizes=(5, 15), generator=5):
        loss = F.binary_cross_entropy(reference(X, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        expected.append(loss.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)


def test_training_on_mixed_sizes_learns_every_size_in_its_range():
    torch.manual_seed(1)
    model, _ = ds.train(ds.DeepSet(), 1500, seed=1, sizes=(5, 20))
    for n in (5, 12, 20):
        X, y = ds.make_data(1000, n_objects=n, generator=n)
        assert ds.evaluate(model, X, y)["accuracy"] >= 0.99, n


def test_an_mlp_cannot_train_on_mixed_sizes():
    with pytest.raises(TypeError, match="mask"):
        ds.train(ds.make_mlp(), 10, sizes=(5, 20))


def test_train_many_with_sizes_equals_train_alone():
    torch.manual_seed(2)
    models = [
        ds.DeepSet(),
        ds.DeepSet(pooling="mean"),
        ds.DeepSet(pooling="max", latent=3),
        ds.DeepSet(activation=None),
    ]
    seeds = [3, 4, 3, 5]
    alone = [copy.deepcopy(m) for m in models]
    _, losses = train_many(models, 60, seeds=seeds, batch_size=20, sizes=(5, 10))
    for k, m in enumerate(alone):
        _, expected = ds.train(m, 60, batch_size=20, seed=seeds[k], sizes=(5, 10))
        np.testing.assert_allclose(losses[k], expected, rtol=1e-5, atol=1e-6)
        for p, q in zip(models[k].parameters(), m.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5)


def test_train_many_with_sizes_sees_the_masks():
    # the same models trained on full sets of 10 end elsewhere: the masks reach the stack
    torch.manual_seed(3)
    a = [ds.DeepSet(), ds.DeepSet()]
    b = [copy.deepcopy(m) for m in a]
    _, la = train_many(a, 30, seeds=[1, 2], batch_size=20, sizes=(5, 10))
    _, lb = train_many(b, 30, seeds=[1, 2], batch_size=20, sizes=(10, 10))
    assert np.abs(la - lb).max() > 1e-4


def test_train_many_rejects_an_mlp_with_sizes():
    with pytest.raises(TypeError, match="mask"):
        train_many([ds.DeepSet(), ds.make_mlp()], 5, seeds=[0, 1], sizes=(5, 10))
