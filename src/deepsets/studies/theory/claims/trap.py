"""Claim 5: escaping the max-pooling trap of the exercise's task.

Shape letters: S seeds, B sets, N objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from deepsets.data import all_sets
from deepsets.lab.figures import seeds_by_variant
from deepsets.lab.run import slug
from deepsets.models.deepset import DeepSet
from deepsets.plots import Figure
from deepsets.studies.theory.common import Claim, Table, accuracy, fit, training_sets
from deepsets.studies.theory.models import SmoothMaxDeepSet, make_phi_increasing
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import exercise_sets
from deepsets.studies.theory.verdicts import TRAP_LEARNED, remedies_verdict

STATEMENT = (
    "With max pooling, the exercise's DeepSet often fails: if the learned phi(0) exceeds "
    "phi(1/5) and phi(1/3), the zeros supply the maximum of every set and no gradient reaches "
    "phi at the non-zero values. A wider latent space, an initialisation that keeps phi(0) "
    "below the non-zero values, or a smooth maximum (log-sum-exp, a learnable power mean) "
    "should each escape the trap."
)
CITATION = (
    "The course exercise (this package's `deepsets run`); the smooth maxima as in "
    "Zaheer et al. 2017's discussion of pooling and the generalised mean of Gulcehre et al. "
    "2014 (learned-norm pooling)."
)

BASELINE = "max (the exercise's DeepSet)"


def variants(s: TheorySettings, seed: int) -> dict[str, nn.Module]:
    """The baseline and the remedies for one seed, each initialised from `seed`."""
    return {
        BASELINE: DeepSet(pooling="max", generator=seed),
        f"wider latent (L = {s.wide_latent})": DeepSet(
            pooling="max", latent=s.wide_latent, generator=seed
        ),
        "increasing phi at init": make_phi_increasing(DeepSet(pooling="max", generator=seed)),
        "log-sum-exp (learned t)": SmoothMaxDeepSet("logsumexp", generator=seed),
        "power mean (learned p)": SmoothMaxDeepSet("powermean", 2.0, generator=seed),
    }


def measure(s: TheorySettings, tick: Callable[[], None]) -> tuple[Claim, Figure]:
    """Claim 5: the baseline and each remedy per seed on make_data; accuracy over all 372 sets."""
    t0 = time.perf_counter()
    per_seed = [variants(s, s.seed + k) for k in range(s.seeds)]
    names = list(per_seed[0])
    models = [m for v in per_seed for m in v.values()]
    data = training_sets(lambda g: exercise_sets(s.trap_sets, generator=g), s, "trap", len(names))
    fit(models, data, s.trap_steps, s, loss="bce", lr=s.trap_lr, masked=False)
    tick()
    X, y = all_sets()  # (372, 10, 1), (372, 1)
    every = (X, torch.ones(X.shape[:2], dtype=torch.bool), y)
    acc = {n: [accuracy(v[n], every, False) for v in per_seed] for n in names}
    learned = {n: sum(a >= TRAP_LEARNED for a in v) for n, v in acc.items()}
    trained = {
        f"{slug(n)}-seed{s.seed + k}": m for k, v in enumerate(per_seed) for n, m in v.items()
    }
    verdict = remedies_verdict({n: c for n, c in learned.items() if n != BASELINE}, s.seeds)
    table = Table(
        ("variant", f"seeds learned (>= {TRAP_LEARNED:.0%})", "accuracy per seed"),
        tuple(
            (n, f"{learned[n]} of {s.seeds}", ", ".join(f"{a:.3f}" for a in acc[n])) for n in names
        ),
    )
    claim = Claim(
        key="max_pooling_trap",
        title="5. Escaping the max-pooling trap",
        statement=STATEMENT,
        citation=CITATION,
        setup=setup(s),
        verdict=verdict,
        tables=(table,),
        figure="max_pooling_trap",
        caption="Accuracy over the 372 distinct sets, one dot per seed; the dashed line is the "
        f"{TRAP_LEARNED:.0%} a seed needs to count as learned.",
        numbers={
            "accuracy_by_seed": acc,
            "seeds_learned": learned,
            "baseline_failures": s.seeds - learned[BASELINE],
        },
        models=len(models),
        seconds=time.perf_counter() - t0,
        trained=trained,
    )
    fig = seeds_by_variant(acc, "accuracy over all sets", "Max pooling and its remedies",
                           TRAP_LEARNED, "learned")  # fmt: skip
    return claim, fig


def setup(s: TheorySettings) -> str:
    """The setup paragraph of the report, from the settings."""
    return (
        "The exercise's task (make_data: ten objects, three at 1/3 or five at 1/5) and "
        "DeepSet (phi 1 -> 5 -> 5 -> 1, tanh; rho 1 -> 5 -> 1), with max pooling, and four "
        f"changes of it: latent width {s.wide_latent}; phi's weights made positive and its "
        "hidden biases zero at initialisation, so phi starts increasing (phi(0) < phi(1/5) < "
        "phi(1/3)); log-sum-exp pooling t log sum exp(phi / t) with a learned temperature "
        "(from t = 1); a power mean (mean softplus(phi)^p)^(1/p) with a learned p (from 2). "
        f"Per seed, {s.trap_steps} Adam steps (lr {s.trap_lr}, BCE) on {s.trap_sets} sets "
        f"of make_data, batches of {s.batch_size}; accuracy over all 372 distinct sets."
    )
