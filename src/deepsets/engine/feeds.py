"""One training call on several data sources: the models of each source (a `Feed`) form their
stacks apart, as if trained alone (so their numbers are those of training them alone), and the
stacks of every feed are shared out over the workers together (`parts.share_out`), so that a
small feed fills what a large one leaves idle. A worker trains its stacks feed by feed, one
`fit` each on that feed's data.

Shape letters: K models in the call, N objects, F features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from deepsets.engine.forked import Copies
from deepsets.engine.loop import fit
from deepsets.engine.parts import Part
from deepsets.engine.settings import EngineSettings
from deepsets.engine.sources import Data


@dataclass(frozen=True, eq=False)
class Feed:
    """Some models of a call and what they train on."""

    index: list[int]
    """Their indices in the call's models (data row k is model index[k]'s)."""
    data: Data
    """Their data: a stream of sets, or given training sets."""
    X: torch.Tensor
    """A sample input (2, N, F) for the check of their outputs."""
    mask: torch.Tensor | None = None
    """Its mask (2, N), if the data are sets of varying size."""

    @property
    def N(self) -> int:
        """Objects per (padded) set."""
        return int(self.X.shape[1])


def objects(feeds: Sequence[Feed], K: int) -> list[int]:
    """(K,): the objects per set of each model's data."""
    N = [0] * K
    for f in feeds:
        for i in f.index:
            N[i] = f.N
    return N


def train_part(
    stacks: Part, members: list[int], show: bool, feeds: Sequence[Feed], s: EngineSettings
) -> tuple[np.ndarray, Copies]:
    """Train one worker's `stacks` (their indices local to `members`, the part's model
    indices), each on its feed's data, one `fit` per feed; returns the losses
    (len(members), steps) and the snapshot copies by model index (`parts.run_parts`)."""
    torch.set_num_threads(s.threads)  # a forked worker's own setting, as this process's
    where = {g: (j, k) for j, f in enumerate(feeds) for k, g in enumerate(f.index)}
    losses = np.empty((len(members), s.steps))
    copies: Copies = {t: {} for t in s.snapshots}
    for j, f in enumerate(feeds):
        mine = [n for n, g in enumerate(members) if where[g][0] == j]  # places in the part
        if not mine:
            continue
        local = {n: k for k, n in enumerate(mine)}
        own = [(stack, [local[n] for n in ix]) for stack, ix in stacks if ix[0] in local]
        kept: Copies = {t: {} for t in s.snapshots}
        data = f.data.subset([where[members[n]][1] for n in mine])
        losses[mine] = fit(own, data, replace(s, progress=s.progress and show), kept)
        for t in s.snapshots:
            copies[t].update({members[mine[k]]: m for k, m in kept[t].items()})
    return losses, copies
