"""The population-statistics study's settings: one frozen dataclass, a docstring per field.

The defaults fit the 10-minute budget on a 2-core CPU (measured: about 820 CPU-seconds): M = 64
samples per set (the paper's code: 512), N = 2^7..2^12 training sets for the DeepSet and up to
2^11 for the kernel method (SDM), 3 seeds, 512 test sets per task. `--paper` switches to the
code's sizes (M = 512, N = 2^7..2^17, SDM to 2^14, 500 + 500 epochs of batch 128), for a larger
machine or a cluster (`--scheduler`); `--quick` is a smoke test in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from deepsets.checks import positive_float, positive_int, positive_ints
from deepsets.lab.memory import Need, activations_need, check_needs, losses_need, models_need
from deepsets.lab.settings import CommonSettings, check_common, cpu_workers
from deepsets.studies.popstats.models import PHI, RHO
from deepsets.studies.popstats.tasks import (
    DIMENSIONS,
    SAMPLES,
    TASKS,
    TEST_SETS,
    TRAIN_SIZES,
    population_bytes,
)

METHODS = ("deepset", "sdm")
SDM_KERNELS = 5  # N x N float64 arrays an SDM fit holds at once (distances, kernel, its split)


@dataclass(frozen=True)
class PopstatsSettings(CommonSettings):
    """Everything `run_popstats` needs; the defaults are the full study (~820 s of CPU)."""

    seeds: int = 3
    """Runs of every method at every N (each run: its own training sets and initial weights)."""
    tasks: tuple[str, ...] = TASKS
    """The tasks: rotation, correlation, rank1, random (deepsets.studies.popstats.tasks)."""
    samples: int = 64
    """M, samples per set (the paper's code: 512; a DeepSet step costs M x batch_size)."""
    sizes: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    """N, the training sizes, increasing (the paper: 2^7..2^17)."""
    steps: tuple[int, ...] = (300, 400, 500, 600, 800, 1000)
    """Adam steps of the DeepSet's MSE phase, one per N (in the order of sizes)."""
    # its fit solves N x N systems: O(N^3), 13 CPU-s at 2048 and about 8x that at 4096
    sdm_max: int = 2048
    """The largest N the kernel method fits."""
    # the paper's code trains on MSE, then on L1
    l1_fraction: float = 0.25
    """The DeepSet's L1 phase (at l1_lr), as a share of the MSE phase's steps (0: none)."""
    batch_size: int = 64
    """Sets per Adam step, drawn from the run's training sets."""
    lr: float = 1e-3
    """Adam's learning rate of the MSE phase."""
    l1_lr: float = 1e-4
    """Adam's learning rate of the L1 phase (in place of the code's plateau schedule)."""
    test_sets: int = TEST_SETS
    """Fresh test sets per task (the paper's code: 512), the same for every method and run."""
    features: int = 512
    """Random Fourier features of the kernel method's MMD (deepsets.studies.popstats.sdm)."""
    scatter_n: int | None = None
    """N of the predicted-against-true figure; default: the largest N both methods ran."""
    # days of CPU and ~230 GiB for all tasks' training sets at 2^17 (a larger machine)
    paper: bool = False
    """The paper's code's sizes (sizes 2^7..2^17, sdm_max 2^14, ...); explicit flags win."""


QUICK: dict[str, Any] = dict(
    samples=16, sizes=(128, 256), steps=(30, 30), sdm_max=256, test_sets=128, features=64
)  # fmt: skip
"""The defaults `--quick` changes; every other field keeps its own."""

PAPER: dict[str, Any] = dict(
    samples=SAMPLES,
    sizes=TRAIN_SIZES,
    steps=tuple(500 * max(1, N // 128) for N in TRAIN_SIZES),  # 500 epochs of batch 128
    sdm_max=2**14,  # 2^15: five 8 GiB kernels; the exact solve is out of reach
    l1_fraction=1.0,  # the code: 500 epochs of MSE, then 500 of L1
    batch_size=128,
)
"""The code's sizes that `--paper` switches to (`PopStats/`); any field given explicitly wins."""


def quick_settings(**overrides: Any) -> PopstatsSettings:
    """The quick run: QUICK's values and quick=True, then `overrides` (explicit settings win)."""
    return PopstatsSettings(**{**QUICK, "quick": True, **overrides})


def paper_sizes(s: PopstatsSettings) -> PopstatsSettings:
    """`s` with PAPER's values in every field still at its default (so explicit flags win)."""
    default = PopstatsSettings()
    return replace(s, **{k: v for k, v in PAPER.items() if getattr(s, k) == getattr(default, k)})


def resolve(settings: PopstatsSettings) -> PopstatsSettings:
    """Check every field (a ValueError naming the first bad one); with `paper`, the paper's
    sizes applied (`paper_sizes`)."""
    if not isinstance(settings, PopstatsSettings):
        raise TypeError(f"settings must be a PopstatsSettings, got {settings!r:.80}")
    check_common(settings, flags=("paper",))
    if settings.paper and settings.quick:
        raise ValueError("paper and quick cannot be combined (--paper is the largest run)")
    s = paper_sizes(settings) if settings.paper else settings
    check_fields(s)
    return s


def check_fields(s: PopstatsSettings) -> None:
    """The study's own fields (a ValueError naming the first bad one)."""
    if not isinstance(s.tasks, tuple) or not s.tasks or any(t not in TASKS for t in s.tasks):
        raise ValueError(f"tasks must be a non-empty selection of {TASKS}, got {s.tasks!r}")
    if len(set(s.tasks)) != len(s.tasks):
        raise ValueError(f"tasks must not repeat, got {s.tasks!r}")
    if positive_int(s.samples, "samples") < 2:
        raise ValueError(f"samples must be at least 2 (a set's spread needs two), got {s.samples}")
    sizes = positive_ints(s.sizes, "sizes")
    if list(sizes) != sorted(set(sizes)) or sizes[0] < 5:
        raise ValueError(f"sizes must be increasing, at least 5 (SDM holds out 20%), got {sizes}")
    positive_ints(s.steps, "steps")
    if len(s.steps) != len(sizes):
        raise ValueError(f"steps must hold one value per size ({len(sizes)}), got {s.steps!r}")
    if positive_int(s.sdm_max, "sdm_max") < sizes[0]:
        raise ValueError(f"sdm_max must be at least the smallest size {sizes[0]}, got {s.sdm_max}")
    if not isinstance(s.l1_fraction, int | float) or not 0 <= s.l1_fraction <= 10:
        raise ValueError(f"l1_fraction must be a number in [0, 10], got {s.l1_fraction!r}")
    for name in ("batch_size", "test_sets", "features"):
        positive_int(getattr(s, name), name)
    positive_float(s.lr, "lr")
    positive_float(s.l1_lr, "l1_lr")
    if s.scatter_n is not None and s.scatter_n not in sdm_sizes(s):
        raise ValueError(
            f"scatter_n must be a size both methods run ({sdm_sizes(s)}), got {s.scatter_n!r}"
        )
    check_needs(s, memory_needs(s))


def memory_needs(s: PopstatsSettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): the
    training sets of the largest N (and their stacked copy), the test sets, the kernel method's
    N x N arrays and its random-feature embeddings (one fit per worker), the DeepSets, their
    losses and a training step."""
    D, N = max(DIMENSIONS[t] for t in s.tasks), max(s.sizes)
    runs = len(s.tasks) * s.seeds
    train = 2 * runs * population_bytes(N, s.samples, D)
    tests = len(s.tasks) * population_bytes(s.test_sets, s.samples, D)
    largest = max(sdm_sizes(s))
    workers = cpu_workers(s)  # a GPU run has one: this bounds it
    embedded = workers * (largest + s.test_sets + D) * s.features * 8
    sized_by = ("features", "sdm_max") if s.workers is None else ("workers", "features", "sdm_max")
    steps = max(s.steps) * (1 + s.l1_fraction)
    params = sum(PHI) * D + sum(PHI) ** 2  # more than phi's and rho's layers hold
    return [
        Need("the training sets", train, ("seeds", "sizes", "samples")),
        Need("the test sets", tests, ("test_sets", "samples")),
        Need("the kernel method's N x N arrays", SDM_KERNELS * 8 * largest**2, ("sdm_max",)),
        Need("the kernel method's embeddings", embedded, sized_by),
        models_need("the DeepSets", runs * len(s.sizes), [params], ("seeds",)),
        losses_need(runs * len(s.sizes), steps, ("seeds", "steps")),
        activations_need("a step's activations", runs, s.batch_size, s.samples,
                         sum(PHI) + sum(RHO), ("batch_size", "samples")),
    ]  # fmt: skip


def sdm_sizes(s: PopstatsSettings) -> tuple[int, ...]:
    """The sizes the kernel method runs at: those up to sdm_max."""
    return tuple(N for N in s.sizes if N <= s.sdm_max)


def scatter_size(s: PopstatsSettings) -> int:
    """N of the predicted-against-true figure: `scatter_n`, or the largest both methods ran."""
    return s.scatter_n if s.scatter_n is not None else max(sdm_sizes(s))
