"""The training data one batch a step, as a plain training loop reads it (from data.chunks)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from deepsets.data import chunks


def batches(steps: int, batch_size: int, **kwargs: object) -> Iterator[tuple[torch.Tensor, ...]]:
    """`steps` fresh batches (X (B, N, 1), y (B, 1)[, mask (B, N)]), one per step: the blocks of
    `chunks(steps, batch_size, **kwargs)` taken apart (its arguments checked at the call)."""
    blocks = chunks(steps, batch_size, **kwargs)  # type: ignore[arg-type]
    return (tuple(part[i] for part in block) for block in blocks for i in range(len(block[0])))
