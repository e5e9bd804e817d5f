"""What every study's settings share, declared and checked once: `CommonSettings` (out,
overwrite, seeds, seed, threads, workers, device, quick, and the cluster's scheduler),
`check_common`, and the CPU threads and engine workers a run derives from them (its device and
the threads it sets: `lab.run`).

A study's settings inherit `CommonSettings` and add their own fields; a study may redeclare a
common field to change its default or its docstring (its `--help` line), never its meaning.
`deepsets run` checks them (and refuses a bad flag) before any work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import torch

from deepsets.checks import positive_float, positive_int, resolve_device, seed_int
from deepsets.cluster import ClusterSettings, check_scheduler
from deepsets.engine.settings import TORCH_THREADS, env_workers, resolve_workers

# The study seeds its runs with seed + s plus offsets below 10**6; 2**62 leaves them room under
# torch's largest seed, 2**63 - 1, so a large seed is refused up front, not midway.
MAX_BASE_SEED = 2**62


@dataclass(frozen=True)
class CommonSettings(ClusterSettings):
    """The settings every study takes (`scheduler`, where the models train, comes from
    ClusterSettings)."""

    out: str | None = None
    """Output directory; default: a fresh runs/<timestamp> directory."""
    overwrite: bool = False
    """Replace an earlier run's output directory (never files that run did not write)."""
    seeds: int = 5
    """Independent runs (initialisation and data) of every model."""
    seed: int = 0
    """Base seed: run s of a model uses seed + s."""
    threads: int | None = None
    """torch CPU threads during the study; default: 1, fastest for these tiny models."""
    # (the default: the cores this process may use over --threads, or DEEPSETS_WORKERS)
    workers: int | None = None
    """Processes sharing out the training on a CPU; changes the time, never a number."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto, cpu or cuda."""
    quick: bool = False
    """A smoke test in seconds: the smaller defaults of QUICK (listed above); explicit flags win."""


def check_common(s: CommonSettings, flags: tuple[str, ...] = ()) -> None:
    """The checks every study's settings share: out, overwrite, quick and the study's other
    boolean `flags`, seeds, seed, threads, device and scheduler (a ValueError naming the first
    bad one)."""
    if s.out is not None and (not isinstance(s.out, str) or not s.out):
        raise ValueError(f"out must be a directory path or None, got {s.out!r}")
    for name in ("overwrite", "quick", *flags):
        if not isinstance(getattr(s, name), bool):
            raise ValueError(f"{name} must be True or False, got {getattr(s, name)!r}")
    positive_int(s.seeds, "seeds")
    if seed_int(s.seed, "seed") > MAX_BASE_SEED:
        raise ValueError(f"seed must be at most 2**62 (the study adds offsets to it), got {s.seed}")
    if s.threads is not None:
        positive_int(s.threads, "threads")
    if s.workers is not None:
        positive_int(s.workers, "workers")
    else:
        env_workers()  # the default's DEEPSETS_WORKERS: a bad one refused before any work
    check_scheduler(s.scheduler)
    check_device(s.device, s.scheduler)


def check_positive(
    s: object, ints: tuple[str, ...], zero: tuple[str, ...] = (), floats: tuple[str, ...] = ()
) -> None:
    """The fields `ints` positive integers, `zero` 0 or positive integers, `floats` positive
    finite numbers (a ValueError naming the first bad one)."""
    for name in (*ints, *(z for z in zero if getattr(s, z) != 0)):
        positive_int(getattr(s, name), name)
    for name in floats:
        positive_float(getattr(s, name), name)


T = TypeVar("T", bound=CommonSettings)


def preset(s: T, values: Mapping[str, Any]) -> T:
    """`s` with `values` in every field still at its default (explicit settings win)."""
    default = type(s)()
    return replace(s, **{k: v for k, v in values.items() if getattr(s, k) == getattr(default, k)})


def check_device(device: str, scheduler: str | None) -> None:
    """A ValueError for an unknown device, cuda without a GPU, or cuda with a scheduler."""
    resolve_device(device)
    if scheduler is not None and device == "cuda":
        raise ValueError("device must be cpu or auto with a scheduler (workers train on CPUs)")


def threads_of(s: CommonSettings) -> int:
    """The CPU threads a study runs on: `s.threads`, or the engine's TORCH_THREADS."""
    return TORCH_THREADS if s.threads is None else s.threads


def cpu_workers(s: CommonSettings) -> int:
    """The engine's workers in a study's training calls on the CPU."""
    return resolve_workers(s.workers, threads_of(s))


def workers_of(s: CommonSettings, device: torch.device) -> int:
    """The engine's workers in a study's training calls on `device` (one on a GPU)."""
    return cpu_workers(s) if device.type == "cpu" else 1
