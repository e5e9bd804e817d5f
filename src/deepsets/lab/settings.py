"""What every study's settings share, checked once: out, flags, seeds, seed, threads, scheduler,
device."""

from __future__ import annotations

from typing import Any

from deepsets.cluster import check_scheduler
from deepsets.device import resolve_device
from deepsets.validate import positive_int, seed_int

# The study seeds its runs with seed + s plus offsets below 10**6; 2**62 leaves them room under
# torch's largest seed, 2**63 - 1, so a large seed is refused up front, not midway.
MAX_BASE_SEED = 2**62

def check_common(s: Any, flags: tuple[str, ...] = ("overwrite", "quick")) -> None:
    """The checks every study's settings share: out, the boolean `flags`, seeds, seed, threads
    and scheduler (a ValueError naming the first bad one)."""
    if s.out is not None and (not isinstance(s.out, str) or not s.out):
        raise ValueError(f"out must be a directory path or None, got {s.out!r}")
    for name in flags:
        if not isinstance(getattr(s, name), bool):
            raise ValueError(f"{name} must be True or False, got {getattr(s, name)!r}")
    positive_int(s.seeds, "seeds")
    if seed_int(s.seed, "seed") > MAX_BASE_SEED:
        raise ValueError(f"seed must be at most 2**62 (the study adds offsets to it), got {s.seed}")
    if s.threads is not None:
        positive_int(s.threads, "threads")
    check_scheduler(s.scheduler)


def check_device(device: str, scheduler: str | None) -> None:
    """A ValueError for an unknown device, cuda without a GPU, or cuda with a scheduler."""
    resolve_device(device)
    if scheduler is not None and device == "cuda":
        raise ValueError("device must be cpu or auto with a scheduler (workers train on CPUs)")
