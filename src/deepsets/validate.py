"""One place for argument checks and for turning seeds into generators.

Every public function validates its inputs with these before any work starts, so a mistake
costs a clear error naming the argument, not a minute of training or a traceback from torch.
The checks of plain values (integers, floats, seeds, the memory limit) are defined in
`deepsets.values`, which needs no torch, and are importable from here as well; this module adds
those of tensors, models and generators.
"""

from __future__ import annotations

import numpy as np
import torch

from deepsets.device import check_placed
from deepsets.values import (
    ACTIVATION_FLOATS,
    MAX_SEED,
    MEMORY_FRACTION,
    check_memory,
    format_bytes,
    is_int,
    memory_limit,
    positive_float,
    positive_int,
    positive_ints,
    seed_int,
)

__all__ = [  # the checks of plain values live in deepsets.values (no torch); kept here too
    "ACTIVATION_FLOATS",
    "MAX_SEED",
    "MEMORY_FRACTION",
    "as_generator",
    "check_finite",
    "check_finite_parameters",
    "check_memory",
    "check_seed",
    "format_bytes",
    "is_int",
    "memory_limit",
    "positive_float",
    "positive_int",
    "positive_ints",
    "seed_int",
]


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
