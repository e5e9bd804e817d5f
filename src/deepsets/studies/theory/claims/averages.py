"""Claim 3 (Bueno & Hylton 2021): max pooling cannot represent the average of a set.

Shape letters: S seeds, B sets, N objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from deepsets.lab.figures import seeds_by_variant
from deepsets.models.deepset import DeepSet, Rho
from deepsets.models.pooling import POOLINGS
from deepsets.plots import Figure
from deepsets.studies.theory.common import (
    Claim,
    Table,
    fit,
    relative_mse,
    seed_major,
    summary,
    test_sets,
    training_sets,
)
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import mean_sets
from deepsets.studies.theory.verdicts import floor_verdict

STATEMENT = (
    "A max-decomposition max_i phi(x_i) followed by rho cannot represent the mean of a set: "
    "max forgets how many elements take each value. Sum and mean pooling represent it exactly "
    "(phi(x) = x), so at equal width max pooling should show an error floor the others do not."
)
CITATION = "C. Bueno, A. Hylton. On the representation power of set pooling networks. NeurIPS 2021."


def measure(s: TheorySettings, tick: Callable[[], None]) -> tuple[Claim, Figure]:
    """Claim 3: a regression DeepSet per pooling and seed on the mean of N reals."""
    t0 = time.perf_counter()
    N = s.mean_objects
    data = training_sets(
        lambda g: mean_sets(s.train_sets, N, generator=g), s, "averages", len(POOLINGS)
    )
    test = test_sets(lambda g: mean_sets(s.test_sets, N, generator=g), s, "averages")
    models, runs = seed_major(s, POOLINGS, lambda p, seed: DeepSet(
        s.hidden, latent=s.latent, pooling=p, rho=Rho(s.rho_hidden, output=None), generator=seed
    ))  # fmt: skip
    fit(models, data, s.steps, s, loss="mse", lr=s.lr, masked=False)
    tick()
    var = float(test[2].var())
    rel = {p: [relative_mse(m, test) for m in runs[p]] for p in POOLINGS}
    mse = {p: [r * var for r in v] for p, v in rel.items()}
    trained = {f"{p}-seed{s.seed + k}": m for p in POOLINGS for k, m in enumerate(runs[p])}
    verdict = floor_verdict({p: float(np.mean(v)) for p, v in mse.items()})
    table = Table(
        ("pooling", "mean test MSE", "min", "max", "MSE / Var(mean)"),
        tuple(
            (p, f"{np.mean(v):.2e}", f"{min(v):.2e}", f"{max(v):.2e}", f"{np.mean(rel[p]):.3f}")
            for p, v in mse.items()
        ),
    )
    claim = Claim(
        key="max_no_average",
        title="3. Max pooling cannot represent averages",
        statement=STATEMENT,
        citation=CITATION,
        setup=setup(s, var),
        verdict=verdict,
        tables=(table,),
        figure="max_no_average",
        caption="Test MSE of each pooling (log scale), one dot per seed.",
        numbers={
            "mse": {p: summary(v) for p, v in mse.items()},
            "mse_by_seed": mse,
            "target_variance": var,
        },
        models=len(models),
        seconds=time.perf_counter() - t0,
        trained=trained,
    )
    return claim, seeds_by_variant(mse, "test MSE", f"Mean of {N} reals", log=True)


def setup(s: TheorySettings, var: float) -> str:
    """The setup paragraph of the report, from the settings."""
    N = s.mean_objects
    return (
        f"Sets of {N} reals uniform on [0, 1), target their mean. A regression DeepSet "
        f"(phi 1 -> {s.hidden} -> {s.hidden} -> {s.latent}, tanh; rho {s.latent} -> "
        f"{s.rho_hidden} -> 1) per pooling (equal width) and seed, {s.steps} Adam steps "
        f"(lr {s.lr}, MSE) on {s.train_sets} sets per seed, batches of {s.batch_size}; MSE "
        f"on {s.test_sets} fresh sets (the variance of their means is {var:.2e})."
    )
