"""Seeded construction of modules: the one way every model of the package seeds its weights.

Modules initialise their weights from torch's global generator; `seeded_init(generator)` lends
them `generator` instead (the global one restored exactly after), so a module's own
initialisation draws from it, the same numbers in the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from deepsets.checks import MAX_SEED, as_generator


@contextlib.contextmanager
def seeded_init(generator: torch.Generator | int | None) -> Iterator[None]:
    """Build modules inside the block from `generator` (a CPU torch.Generator, advanced by the
    draws, or an integer seed); None builds them from torch's global generator."""
    if generator is None:
        yield
        return
    g = as_generator(generator)
    if g.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got one on {g.device}")
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(g.get_state())
        yield
        g.set_state(torch.get_rng_state())


def child_seed(generator: torch.Generator | int | None) -> int | None:
    """One seed drawn from `generator` (None stays None): a model built from it advances the
    caller's generator by one draw, however many weights it has (the digit-sum models)."""
    if generator is None:
        return None
    return int(torch.randint(0, MAX_SEED, (1,), generator=as_generator(generator)))
