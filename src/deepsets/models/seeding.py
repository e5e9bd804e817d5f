"""Seeded construction of modules: the one way every model of the package seeds its weights.

Modules initialise their weights from torch's global generator (nn.Linear, nn.Embedding,
nn.LSTM, nn.MultiheadAttention alike). `seeded_init(generator)` lends them `generator`
instead: inside the block the global generator holds the generator's state, on the way out
the generator takes the state the draws left and the caller's global generator is restored
exactly. So a module's own initialisation (never a re-implementation of it) draws from the
generator, as many numbers as it would have drawn from the global one, in the same order.
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
