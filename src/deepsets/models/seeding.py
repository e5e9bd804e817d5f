"""Seeded construction of modules whose constructors draw from torch's global generator.

nn.Embedding, nn.LSTM, nn.GRU and nn.MultiheadAttention initialise their weights from the
global generator; `seeded_init(generator)` runs their construction on a forked copy of it,
seeded from `generator`, so the same seed gives the same weights and the caller's global
generator is left exactly as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from deepsets.validate import MAX_SEED, as_generator


@contextlib.contextmanager
def seeded_init(generator: torch.Generator | int | None) -> Iterator[None]:
    """Build modules inside the block from `generator` (None: from torch's global generator)."""
    if generator is None:
        yield
        return
    g = as_generator(generator)
    seed = int(torch.randint(0, MAX_SEED, (1,), generator=g))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
