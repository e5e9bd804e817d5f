"""torch's CPU threads during a block: `torch_threads(n)` sets them and restores the caller's.

The engine's settings (`engine.settings`: TORCH_THREADS, the workers) are plain values that a
study's check reads before torch loads; setting the threads is torch's, so it lives here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch on `n` CPU threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
