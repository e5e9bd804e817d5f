"""One place for argument checks and for turning seeds into generators.

Every public function validates its inputs with these before any work starts, so a mistake
costs a clear error naming the argument, not a minute of training or a traceback from torch.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import TypeGuard

import numpy as np
import torch

from deepsets.device import check_placed

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes seeds up to this (a signed 64-bit int)


def is_int(value: object) -> TypeGuard[int]:
    """True for ints (and numpy integers), False for bools, floats and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value: object, name: str) -> int:
    """`value` as an int if it is an integer >= 1, else a ValueError naming `name`."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_ints(values: object, name: str, *, empty: bool = False) -> tuple[int, ...]:
    """A tuple or list of positive integers (non-empty unless `empty`), as a tuple."""
    if not isinstance(values, tuple | list) or not (values or empty):
        what = "a list" if empty else "a non-empty list"
        raise ValueError(f"{name} must be {what} of positive integers, got {values!r}")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))


def positive_float(value: object, name: str) -> float:
    """`value` as a float if it is a finite number > 0, else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if not 0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def seed_int(value: object, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63 - 1], the range torch.Generator accepts."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value!r}")
    if not 0 <= int(value) <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value!r}")
    return int(value)


def check_seed(value: object, name: str = "seed") -> None:
    """A torch.Generator or an integer seed in [0, 2**63 - 1]; else an error naming `name`."""
    if isinstance(value, torch.Generator):
        return
    if not is_int(value):  # the TypeError of as_generator
        raise TypeError(f"{name} must be a torch.Generator or an integer seed, got {value!r}")
    seed_int(value, name)


def check_finite(t: torch.Tensor, name: str) -> None:
    """A ValueError naming `name` and the index of its first NaN or infinity, if it holds one
    (integer, boolean and meta tensors pass)."""
    if not (t.is_floating_point() or t.is_complex()) or t.is_meta:  # meta: no values
        return
    bad = ~torch.isfinite(t.detach())
    if bool(bad.any()):
        first = int(bad.reshape(-1).to(torch.uint8).argmax())  # the first non-finite entry
        index = ", ".join(str(int(i)) for i in np.unravel_index(first, tuple(t.shape)))
        raise ValueError(
            f"{name} must hold finite numbers, got {t.reshape(-1)[first].item()} at "
            f"{name}[{index}] ({int(bad.sum())} non-finite value(s) in all)"
        )


def check_finite_parameters(model: torch.nn.Module, what: str) -> None:
    """A ValueError naming the first parameter of `model` (called `what`) that holds a NaN or
    an infinity, and where: such a model outputs NaN whatever its input."""
    for name, p in model.named_parameters():
        check_finite(p, f"{what}.{name}")


def as_generator(
    generator: torch.Generator | int | None,
    device: torch.device | str | None = None,
    name: str = "generator",
) -> torch.Generator:
    """A torch.Generator from a generator, an integer seed or None (a fresh, unseeded one)."""
    if isinstance(generator, torch.Generator):
        check_placed(generator, name)
        return generator
    if generator is not None and not is_int(generator):
        raise TypeError(
            f"{name} must be a torch.Generator, an integer seed or None, got {generator!r}"
        )
    g = torch.Generator(device=torch.device(device) if device is not None else "cpu")
    if generator is None:
        g.seed()  # non-deterministic, and leaves torch's global generator alone
    else:
        g.manual_seed(seed_int(generator, name))
    return g


MEMORY_FRACTION = 0.5  # one array may take at most this share of the machine's physical memory
# Floats kept per hidden unit and object during a training step: the activation, its
# pre-activation and its gradient (train_on's batch check and the studies' estimates).
ACTIVATION_FLOATS = 3


def memory_limit() -> int:
    """Bytes one call may allocate: MEMORY_FRACTION of physical memory (8 GiB if unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        total = 16 * 2**30
    return int(total * MEMORY_FRACTION)


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; the largest unit that keeps the number at least 1."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(n_bytes: float, what: str) -> None:
    """A ValueError before allocating, if `what` (which names the size argument) would need
    more than `memory_limit()` bytes: the message says how much it would need."""
    limit = memory_limit()
    if n_bytes > limit:
        raise ValueError(
            f"{what} would need about {format_bytes(n_bytes)} of memory, more than the "
            f"{format_bytes(limit)} allowed ({MEMORY_FRACTION:.0%} of this machine's); "
            "use a smaller size"
        )
