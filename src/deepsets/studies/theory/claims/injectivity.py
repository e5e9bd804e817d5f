"""Claim 2 (Xu et al. 2019): sum pooling is injective on multisets; mean and max are not.

Shape letters: S seeds, B sets, N objects, L latent features.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
import torch

from deepsets.lab.figures import seeds_by_variant
from deepsets.models.deepset import DeepSet, Rho
from deepsets.models.pooling import POOLINGS, pool
from deepsets.plots import Figure
from deepsets.studies.theory.common import (
    Claim,
    Table,
    accuracy,
    fit,
    seed_major,
    summary,
    test_sets,
    training_sets,
)
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import Sets, colliding_pairs, multiplicity_sets
from deepsets.studies.theory.verdicts import injectivity_verdict

STATEMENT = (
    "Sum pooling of a suitable phi is injective on multisets of a countable set; mean and max "
    "pooling are not: mean sees only proportions and max only which elements occur. A label "
    "that depends on multiplicities is learnable with sum pooling and not with mean or max."
)
CITATION = (
    "K. Xu, W. Hu, J. Leskovec, S. Jegelka. How powerful are graph neural networks? ICLR 2019 "
    "(the GIN paper)."
)


def support_ceiling(data: Sets) -> float:
    """The best accuracy on `data` of any function of the set of distinct values (all mean or
    max pooling can see here): the majority label within each group of sets of equal support."""
    X, mask, y = data
    groups: dict[tuple[float, ...], Counter[int]] = defaultdict(Counter)
    for x, m, label in zip(X[..., 0].tolist(), mask.tolist(), y[:, 0].tolist(), strict=True):
        support = tuple(sorted({v for v, real in zip(x, m, strict=True) if real}))
        groups[support][int(label)] += 1
    return sum(max(c.values()) for c in groups.values()) / len(y)


def collisions(models: dict[str, DeepSet]) -> Table:
    """For each colliding pair, each pooling's trained model (seed 0): the largest difference
    between the two pooled vectors, and its outputs on the two sets."""
    rows = []
    for pair in colliding_pairs():
        a, b = (torch.tensor(v).view(1, -1, 1) for v in (pair.a, pair.b))  # (1, n, 1)
        cells = []
        for name, m in models.items():
            with torch.no_grad():
                za = pool(m.phi(a), None, name)  # (1, L)
                zb = pool(m.phi(b), None, name)  # (1, L)
                gap = float((za - zb).abs().max())
                cells.append(f"{gap:.1e}: {float(m(a)):.2f} / {float(m(b)):.2f}")
        rows.append((_show(pair.a) + " vs " + _show(pair.b), *cells))
    header = ("sets (labels 0 vs 1)", *(f"{p}: |pool a - pool b|, outputs" for p in models))
    return Table(header, tuple(rows))


def _show(values: tuple[float, ...]) -> str:
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


def measure(s: TheorySettings, tick: Callable[[], None]) -> tuple[Claim, Figure]:
    """Claim 2: a DeepSet per pooling and seed on the multiplicity task; accuracies, ceiling."""
    t0 = time.perf_counter()
    data = training_sets(
        lambda g: multiplicity_sets(s.train_sets, generator=g), s, "injectivity", len(POOLINGS)
    )
    test = test_sets(lambda g: multiplicity_sets(s.test_sets, generator=g), s, "injectivity")
    models, runs = seed_major(s, POOLINGS, lambda p, seed: DeepSet(
        s.hidden, latent=s.latent, pooling=p, rho=Rho(s.rho_hidden), generator=seed
    ))  # fmt: skip
    fit(models, data, s.multiset_steps, s, loss="bce", lr=s.lr, masked=True)
    tick()
    acc = {p: [accuracy(m, test, True) for m in runs[p]] for p in POOLINGS}
    mean_acc = {p: float(np.mean(a)) for p, a in acc.items()}
    ceiling = support_ceiling(test)
    verdict = injectivity_verdict(mean_acc, ceiling)
    first = {p: runs[p][0] for p in POOLINGS}  # seed 0 of each pooling
    trained = {f"{p}-seed{s.seed + k}": m for p in POOLINGS for k, m in enumerate(runs[p])}
    table = Table(
        ("pooling", "mean accuracy", "min", "max"),
        tuple((p, f"{mean_acc[p]:.1%}", f"{min(a):.1%}", f"{max(a):.1%}") for p, a in acc.items()),
    )
    claim = Claim(
        key="sum_injective",
        title="2. Sum is injective on multisets; mean and max are not",
        statement=STATEMENT,
        citation=CITATION,
        setup=setup(s, ceiling),
        verdict=verdict,
        tables=(table, collisions(first)),
        figure="sum_injective",
        caption="Test accuracy of each pooling, one dot per seed; the dashed line is the ceiling "
        "of mean and max pooling.",
        numbers={
            "accuracy": {p: summary(a) for p, a in acc.items()},
            "accuracy_by_seed": acc,
            "ceiling_mean_max": ceiling,
        },
        models=len(models),
        seconds=time.perf_counter() - t0,
        trained=trained,
    )
    return claim, seeds_by_variant(
        acc, "test accuracy", "Multiplicity task", ceiling, "ceiling of mean and max"
    )


def setup(s: TheorySettings, ceiling: float) -> str:
    """The setup paragraph of the report, from the settings."""
    return (
        "Each set holds 1 to 3 distinct symbols of 4 (values 1/4, 1/2, 3/4, 1), each repeated "
        "the same number of times m (1 to 4), shuffled and zero-padded to 12 with a mask; "
        "label: m >= 3 (balanced). Mean and max pooling of any phi see only which symbols "
        f"occur, independent of m by construction. A DeepSet (phi 1 -> {s.hidden} -> "
        f"{s.hidden} -> {s.latent}, tanh; rho {s.latent} -> {s.rho_hidden} -> 1) per "
        f"pooling and seed, {s.multiset_steps} Adam steps (lr {s.lr}, BCE) on "
        f"{s.train_sets} sets per seed, batches of {s.batch_size}; accuracy on "
        f"{s.test_sets} fresh sets. Ceiling of mean and max: the best accuracy of any "
        "function of the distinct symbols on these test sets (the majority label of each "
        f"support), {ceiling:.1%}. The second table pools two colliding pairs through each "
        "pooling's trained phi (seed 0): a difference at float rounding (~1e-8) means both "
        "sets of the pair get the same output, so one of them is misclassified."
    )
