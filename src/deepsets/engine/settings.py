"""The engine's settings for one training call, and torch's threads during it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

# torch's intra-op threads during training by default. Measured on a 2-core CPU
# (benchmarks/README.md): the whole study trains in about the same time on one thread as on two
# when the machine is idle, and up to ten times slower on two when anything else wants a core,
# as intra-op threads then wait for each other; the cores are used by the engine's workers
# instead. On CUDA the CPU only launches kernels, so one thread is enough there too.
TORCH_THREADS = 1


@dataclass(frozen=True)
class EngineSettings:
    """How the engine trains the models of one call (`train_many`, `train_on`)."""

    steps: int
    """Adam steps."""
    batch_size: int
    """Sets a step (for the estimate of each stack's cost)."""
    lr: float = 1e-3
    """Adam's learning rate."""
    loss: str = "bce"
    """One of `deepsets.engine.losses.LOSSES`."""
    target: tuple[int, ...] = (1,)
    """The shape of one set's output."""
    snapshots: tuple[int, ...] = ()
    """Steps after which copies of the models are kept, ascending."""
    threads: int = TORCH_THREADS
    """torch's CPU threads in every worker (and every executor task) while it trains."""
    progress: bool = False
    """Show a progress bar."""


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch on `n` CPU threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
