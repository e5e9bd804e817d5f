"""Models on several data sources in one `train_many` call (`sizes` one entry per model).

Each entry's models form their stacks apart, as if trained alone, and every stack is shared
out over the workers together (engine/train.py Feed, parts.share_out): the numbers are those of
one call per entry, to the bit, on any number of workers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from deepsets.engine import parts
from deepsets.engine.parts import cost, partition, share_out, stacks
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many
from deepsets.models import DeepSet, make_mlp

# (the entry of `sizes`, a model builder) for every model of the call, in call order
SIZES = [None, (5, 20), None, (5, 10), (5, 20), None, (5, 10), (5, 20)]


def models_and_sizes() -> tuple[list[nn.Module], list[tuple[int, int] | None]]:
    """DeepSets on three kinds of sets, and MLPs (sets of 10 only), interleaved."""
    models: list[nn.Module] = []
    sizes: list[tuple[int, int] | None] = []
    for k, entry in enumerate(SIZES):
        for seed in range(3):
            models.append(DeepSet(generator=10 * k + seed))
            sizes.append(entry)
        if entry is None:
            models.append(make_mlp(16, generator=k))
            sizes.append(None)
    return models, sizes


def weights(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def one_call_per_entry(steps: int, snapshots: tuple[int, ...]):
    """The reference: each entry's models trained by their own call, in the one-pair form."""
    models, sizes = models_and_sizes()
    losses = np.empty((len(models), steps))
    snaps: dict[int, list[nn.Module | None]] = {t: [None] * len(models) for t in snapshots}
    for entry in dict.fromkeys(sizes):
        index = [i for i, e in enumerate(sizes) if e == entry]
        kept: dict[int, list[nn.Module]] = {t: [] for t in snapshots}
        _, part = train_many([models[i] for i in index], steps, seeds=index, sizes=entry,
                             engine=Engine(snapshots=kept, workers=1, progress=False))  # fmt: skip
        losses[index] = part
        for t in snapshots:
            for i, m in zip(index, kept[t], strict=True):
                snaps[t][i] = m
    return models, losses, snaps


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_one_call_on_several_sizes_gives_the_bits_of_one_call_per_size(workers, monkeypatch):
    forks = []
    real = parts.run_forked
    monkeypatch.setattr(parts, "run_forked", lambda n, *a, **k: forks.append(n) or real(n, *a, **k))
    monkeypatch.setattr(parts, "FORK_SECONDS", 0.0)  # fork even for these few steps
    steps, at = 30, (7, 30)
    ref_models, ref_losses, ref_snaps = one_call_per_entry(steps, at)
    models, sizes = models_and_sizes()
    snaps: dict[int, list[nn.Module]] = {t: [] for t in at}
    e = Engine(snapshots=snaps, workers=workers, progress=False)
    _, losses = train_many(models, steps, seeds=list(range(len(models))), sizes=sizes, engine=e)
    np.testing.assert_array_equal(losses, ref_losses)
    for m, ref in zip(models, ref_models, strict=True):
        assert all(map(torch.equal, weights(m), weights(ref)))
    for t in at:
        for m, ref in zip(snaps[t], ref_snaps[t], strict=True):
            assert all(map(torch.equal, weights(m), weights(ref)))
    assert forks == ([] if workers == 1 else [workers])  # one fork for every entry's stacks
    assert not all(map(torch.equal, weights(snaps[7][0]), weights(models[0])))  # snapshot: earlier


def test_each_group_forms_its_own_stacks_and_all_are_shared_out_largest_first():
    models, sizes = models_and_sizes()
    groups = [([i for i, e in enumerate(sizes) if e == entry], 10 if entry is None else entry[1])
              for entry in dict.fromkeys(sizes)]  # fmt: skip
    alone = sorted(
        tuple(index[k] for k in local)
        for index, N in groups
        for _, local in stacks([models[i] for i in index], 100, N)
    )
    N_of = {i: N for index, N in groups for i in index}
    work = {g: cost([models[i] for i in g], 100, N_of[g[0]]) for g in alone}
    for workers in (1, 2, 3, 5):
        got = share_out(models, 100, groups, workers)
        assert sorted(tuple(ix) for p in got for _, ix in p) == alone
        load = [0.0] * len(got)  # a plain list scheduling: largest first, to the least loaded
        expected: list[list[tuple[int, ...]]] = [[] for _ in got]
        for g in sorted(alone, key=lambda g: (-work[g], alone.index(g))):
            j = load.index(min(load))
            expected[j].append(g)
            load[j] += work[g]
        assert [sorted(tuple(ix) for _, ix in p) for p in got] == [sorted(e) for e in expected]
    single = [DeepSet(generator=i) for i in range(7)]
    as_one = [[ix for _, ix in p] for p in share_out(single, 100, [(list(range(7)), 10)], 2)]
    assert as_one == [[ix for _, ix in p] for p in partition(single, 100, 10, 2)]


def test_per_model_sizes_are_checked_naming_the_entry():
    models = [DeepSet(generator=0), DeepSet(generator=1)]
    with pytest.raises(ValueError, match=r"one entry per model \(2\), got 3 entries"):
        train_many(models, 2, seeds=[0, 1], sizes=[None, (5, 10), None])
    with pytest.raises(ValueError, match=r"sizes\[1\] must satisfy lo <= hi"):
        train_many(models, 2, seeds=[0, 1], sizes=[None, (10, 5)])
    with pytest.raises(ValueError, match=r"sizes\[0\] must be a pair"):
        train_many(models, 2, seeds=[0, 1], sizes=[(5,), None])
    with pytest.raises(ValueError, match=r"sizes\[1\]=\(5, 10\) sets the set sizes"):
        train_many(models, 2, seeds=[0, 1], sizes=[None, (5, 10)], n_objects=12)
    with pytest.raises(TypeError, match="needs a model whose forward takes a mask"):
        train_many([models[0], make_mlp(4)], 2, seeds=[0, 1], sizes=[(5, 10), (5, 10)])
    before = [weights(m) for m in models]
    with pytest.raises(ValueError, match=r"sizes\[1\]\[0\] must be"):
        train_many(models, 2, seeds=[0, 1], sizes=[None, ("5", 10)])
    assert all(all(map(torch.equal, weights(m), b)) for m, b in zip(models, before, strict=True))


def test_a_none_entry_trains_on_n_objects_and_a_pair_for_all_is_one_group():
    a, b = DeepSet(generator=3), DeepSet(generator=3)
    _, la = train_many([a], 5, seeds=[4], n_objects=12, engine=Engine(progress=False))
    _, lb = train_many([b, DeepSet()], 5, seeds=[4, 5], sizes=[None, None], n_objects=12,
                       engine=Engine(progress=False))  # fmt: skip
    np.testing.assert_array_equal(la[0], lb[0])
    c, d = DeepSet(generator=3), DeepSet(generator=3)
    _, lc = train_many([c], 5, seeds=[4], sizes=(5, 20), engine=Engine(progress=False))
    _, ld = train_many([d], 5, seeds=[4], sizes=[(5, 20)], engine=Engine(progress=False))
    np.testing.assert_array_equal(lc, ld)
