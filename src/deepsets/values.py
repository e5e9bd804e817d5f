"""Checks of plain values, in pure Python: numbers, seeds, names, the memory limit.

These are the checks a study's settings go through before any work, and they import neither
torch nor numpy, so that a refused flag (`deepsets run --seeds 0`) costs the interpreter and
the settings only, not the second torch takes to load. The modules that compute (validate,
device, data, training, the models and tasks) check their arguments with these same functions
and re-export the public ones (`from deepsets.validate import positive_int` keeps working).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import TypeGuard

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


def check_n_sets(N: object, name: str = "N") -> int:
    """Validate a number of sets: a positive even integer, so both classes get N/2."""
    if not is_int(N):
        raise TypeError(
            f"{name} must be a positive even integer (a balanced set needs {name}/2 of each "
            f"class), got {N!r} of type {type(N).__name__}"
        )
    if N <= 0 or N % 2:
        raise ValueError(
            f"{name} must be a positive even integer (a balanced set needs {name}/2 of each "
            f"class), got {N}"
        )
    return int(N)


def check_sizes(sizes: object, name: str = "sizes") -> tuple[int, int]:
    """(lo, hi) with 0 <= lo <= hi and hi >= 1 (lo = 0 allows empty sets), else a ValueError
    naming `name` (a study passes its field)."""
    if not isinstance(sizes, tuple | list) or len(sizes) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi) of set sizes, got {sizes!r}")
    hi = positive_int(sizes[1], f"{name}[1]")
    lo = sizes[0]
    if lo != 0:
        lo = positive_int(lo, f"{name}[0]")
    if lo > hi:
        raise ValueError(f"{name} must satisfy 0 <= lo <= hi, got {sizes!r}")
    return int(lo), hi


def check_training_args(steps: object, batch_size: object, lr: object) -> None:
    """Raise a clear error for a bad number of steps, batch size or learning rate."""
    positive_int(steps, "steps")
    check_n_sets(batch_size, "batch_size")
    positive_float(lr, "lr")


# The rows of the activations' table (deepsets.models.activation.ACTIVATIONS), by name.
ACTIVATION_NAMES = ("tanh", "relu", "sigmoid", "gelu")


def check_activation(activation: str | None, name: str = "activation") -> str | None:
    """Return the activation name if known; None means no nonlinearity."""
    if activation is not None and (
        not isinstance(activation, str) or activation not in ACTIVATION_NAMES
    ):
        raise ValueError(
            f"{name} must be one of {sorted(ACTIVATION_NAMES)} or None, got {activation!r}"
        )
    return activation


DEVICES = ("auto", "cpu", "cuda")
EXPECTED_DEVICE = f"one of {DEVICES} or a torch.device of the CPU or of an available CUDA GPU"


def check_device_name(device: object, name: str = "device") -> str:
    """`device` if it is one of DEVICES, else a ValueError naming `name` and what it takes.
    Whether "cuda" is there is torch's to say (`deepsets.device.resolve_device`)."""
    if not isinstance(device, str) or device not in DEVICES:
        raise ValueError(f"{name} must be {EXPECTED_DEVICE}, got {device!r}")
    return device


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
