"""Claim 4 (Zaheer et al. 2017; Segol & Lipman 2020): equivariant targets need a pooling layer.

Shape letters: S seeds, B sets, N objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from deepsets.lab.figures import seeds_by_variant
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
from deepsets.studies.theory.models import EquivariantNet, PerElementNet
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import Sets, above_mean_sets, per_element_ceiling
from deepsets.studies.theory.verdicts import equivariance_verdict

STATEMENT = (
    "Permutation-equivariant functions of a set are built from layers x_i -> lambda x_i + "
    "gamma pool(x) (Zaheer et al.), and such layers with pooling are universal for them (Segol "
    "and Lipman). Without the pooling term a network sees one element at a time, so a target "
    "such as 'is x_i above its set's mean' stays out of reach beyond a computable ceiling."
)
CITATION = (
    "M. Zaheer et al. Deep Sets. NeurIPS 2017; N. Segol, Y. Lipman. On universal equivariant "
    "set networks. ICLR 2020."
)


def measure(s: TheorySettings, tick: Callable[[], None]) -> tuple[Claim, Figure]:
    """Claim 4: a per-object network and a PermEquivariant stack per seed; accuracy per object."""
    t0 = time.perf_counter()
    N, spread = s.equivariant_objects, s.spread

    def task(B: int) -> Callable[[int], Sets]:
        return lambda g: above_mean_sets(B, N, spread=spread, generator=g)

    data = training_sets(task(s.train_sets), s, "equivariance", 2)
    test = test_sets(task(s.test_sets), s, "equivariance")
    names = ("per-object network", "PermEquivariant stack")
    models, runs = seed_major(s, names, lambda n, seed: (
        PerElementNet(s.hidden, generator=seed) if n == names[0]
        else EquivariantNet(s.hidden, s.layers, generator=seed)
    ))  # fmt: skip
    fit(models, data, s.steps, s, loss="bce", lr=s.lr, masked=False)
    tick()
    acc = {n: [accuracy(m, test, False) for m in runs[n]] for n in names}
    ceiling = per_element_ceiling(N, spread)
    trained = {
        f"{kind}-seed{s.seed + k}": m
        for kind, n in zip(("per-object", "equivariant"), names, strict=True)
        for k, m in enumerate(runs[n])
    }
    verdict = equivariance_verdict(
        float(np.mean(acc[names[0]])), float(np.mean(acc[names[1]])), ceiling
    )
    table = Table(
        ("network", "mean accuracy", "min", "max"),
        (
            *((n, f"{np.mean(a):.1%}", f"{min(a):.1%}", f"{max(a):.1%}") for n, a in acc.items()),
            ("ceiling without interaction (exact)", f"{ceiling:.1%}", "", ""),
        ),
    )
    claim = Claim(
        key="equivariant_needs_pooling",
        title="4. Equivariant targets need a pooling layer",
        statement=STATEMENT,
        citation=CITATION,
        setup=setup(s, ceiling),
        verdict=verdict,
        tables=(table,),
        figure="equivariant_needs_pooling",
        caption="Test accuracy per object, one dot per seed; the dashed line is the ceiling of "
        "any network without interaction.",
        numbers={
            "accuracy": {n: summary(a) for n, a in acc.items()},
            "accuracy_by_seed": acc,
            "ceiling": ceiling,
        },
        models=len(models),
        seconds=time.perf_counter() - t0,
        trained=trained,
    )
    return claim, seeds_by_variant(
        acc, "test accuracy per object", "x_i above its set's mean?", ceiling
    )


def setup(s: TheorySettings, ceiling: float) -> str:
    """The setup paragraph of the report, from the settings."""
    N, spread = s.equivariant_objects, s.spread
    return (
        f"Sets of {N} objects x_i = c + e_i, one offset c ~ N(0, {spread:g}^2) per set, "
        "e_i ~ N(0, 1); target per object: x_i > the set's mean. Per-object network: phi "
        f"1 -> {s.hidden} -> {s.hidden} -> 1 (tanh) on each object alone. Equivariant: "
        f"{s.layers} PermEquivariant layers (mean pooling, width {s.hidden}, tanh). Per seed, "
        f"{s.steps} Adam steps (lr {s.lr}, BCE over objects) on {s.train_sets} sets, batches "
        f"of {s.batch_size}; accuracy over the objects of {s.test_sets} fresh sets. Ceiling: "
        "x_i and x_i - mean(x) are jointly Gaussian with correlation rho = sqrt((1 - 1/N) / "
        "(spread^2 + 1)) and the best rule on x_i alone is its sign, right with probability "
        f"1/2 + arcsin(rho)/pi = {ceiling:.1%}."
    )
