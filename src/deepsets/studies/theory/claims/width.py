"""Claim 1 (Wagstaff et al. 2019): the median of N reals needs a latent width L >= N.

Shape letters: S seeds, L latent widths, N set sizes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from deepsets.models.deepset import DeepSet, Rho
from deepsets.plots import Figure
from deepsets.studies.theory.common import (
    Claim,
    Table,
    fit,
    relative_mse,
    seed_major,
    test_sets,
    training_sets,
)
from deepsets.studies.theory.settings import TheorySettings
from deepsets.studies.theory.tasks import median_sets
from deepsets.studies.theory.verdicts import stopping_width, width_verdict

STATEMENT = (
    "With continuous phi and rho, sum-decomposing some functions of N reals exactly needs a "
    "latent width L of at least N, and L = N suffices; their illustration is the median. So the "
    "test error of a median regression should stop improving at L = N."
)
CITATION = (
    "E. Wagstaff, F. Fuchs, M. Engelcke, I. Posner, M. Osborne. On the limitations of "
    "representing functions on sets. ICML 2019."
)


def errors_for(s: TheorySettings, N: int) -> tuple[np.ndarray, dict[int, list[DeepSet]]]:
    """Train a regression DeepSet per seed and L on the median of N reals; their relative test
    MSEs (S, L) and the trained models by L, one per seed."""
    task = lambda g: median_sets(s.train_sets, N, generator=g)  # noqa: E731
    data = training_sets(task, s, "width", repeat=len(s.latents))
    test = test_sets(lambda g: median_sets(s.test_sets, N, generator=g), s, "width")
    models, runs = seed_major(s, s.latents, lambda L, seed: DeepSet(
        s.hidden, latent=L, rho=Rho(s.rho_hidden, output=None), generator=seed
    ))  # fmt: skip
    fit(models, data, s.median_steps, s, loss="mse", lr=s.lr, masked=False)
    errs = [[relative_mse(m, test) for m in runs[L]] for L in s.latents]  # (L, S)
    return np.array(errs).T, runs  # (S, L)


def measure(s: TheorySettings, tick: Callable[[], None]) -> tuple[Claim, Figure]:
    """Claim 1: median regression over N and L, the error table and the verdict."""
    t0 = time.perf_counter()
    errors: dict[int, np.ndarray] = {}
    trained: dict[str, DeepSet] = {}
    for N in s.set_sizes:
        errors[N], runs = errors_for(s, N)  # (S, L)
        for L, models in runs.items():
            trained |= {f"N{N}-L{L}-seed{s.seed + k}": m for k, m in enumerate(models)}
        tick()
    median = {
        N: dict(zip(s.latents, np.median(e, axis=0).tolist(), strict=True))
        for N, e in errors.items()
    }
    verdict = width_verdict(median)
    stops = {N: stopping_width(by_L) for N, by_L in median.items()}
    table = Table(
        ("N \\ L", *map(str, s.latents), "stops at L"),
        tuple(
            (str(N), *(f"{median[N][L]:.2e}" for L in s.latents), str(stops[N]))
            for N in s.set_sizes
        ),
    )
    claim = Claim(
        key="latent_width",
        title="1. Latent width against set size",
        statement=STATEMENT,
        citation=CITATION,
        setup=setup(s),
        verdict=verdict,
        tables=(table,),
        figure="latent_width",
        caption="Relative test MSE of the median regression against L (median over seeds, band: "
        "min-max); the dotted line of each colour marks L = N.",
        numbers={
            "relative_mse": {str(N): {str(L): v for L, v in median[N].items()} for N in median},
            "relative_mse_by_seed": {str(N): e.tolist() for N, e in errors.items()},
            "stops_at": {str(N): L for N, L in stops.items()},
        },
        models=s.seeds * len(s.latents) * len(s.set_sizes),
        seconds=time.perf_counter() - t0,
        trained=trained,
    )
    return claim, figure(list(s.latents), errors)


def figure(latents: list[int], errors: dict[int, np.ndarray]) -> Figure:
    """Relative MSE against L (log-log), one line per N with a min-max band and L = N marked."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for N, e in errors.items():
        (line,) = ax.plot(latents, np.median(e, axis=0), "o-", label=f"N = {N}")
        ax.fill_between(latents, e.min(axis=0), e.max(axis=0), color=line.get_color(), alpha=0.15)
        ax.axvline(N, color=line.get_color(), ls=":", lw=1.2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(latents, [str(L) for L in latents])
    ax.set_xlabel("latent width L")
    ax.set_ylabel("test MSE / Var(median)")
    ax.set_title("Median of N reals: error against latent width")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig


def setup(s: TheorySettings) -> str:
    """The setup paragraph of the report, from the settings."""
    return (
        f"Sets of N reals uniform on [-1, 1), target their median; a DeepSet (phi 1 -> "
        f"{s.hidden} -> {s.hidden} -> L, tanh; sum; rho L -> {s.rho_hidden} -> 1) per latent "
        f"width L in {list(s.latents)} and N in {list(s.set_sizes)}, {s.seeds} seeds each, "
        f"{s.median_steps} Adam steps (lr {s.lr}, MSE) on {s.train_sets} sets per seed, "
        f"batches of {s.batch_size}. Error: test MSE on {s.test_sets} fresh sets divided by "
        "the variance of their medians (1 = always predicting the average median); the table "
        "shows the median over seeds. (For N = 2 the median is the mean, which L = 1 "
        "represents exactly: the bound is about the hardest functions, not every one.)"
    )
