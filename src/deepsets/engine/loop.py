"""The one training loop: Adam on a loss (binary cross-entropy by default), every stack of models
at once.

Shape letters: T steps in a chunk, S distinct data streams, K models, B sets, N objects, F features.

Every stacked weight is a view into one flat leaf (P,): the backward of `split` is a single cat,
and Adam updates one tensor per step instead of one per parameter. Adam is elementwise and the
members share no weights, so each gets exactly the update its own Adam would give it; the loss
is the sum of the members' mean losses, so each gets its own gradient.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepsets.engine.adam import FlatAdam
from deepsets.engine.losses import per_model
from deepsets.engine.sources import Data
from deepsets.engine.stacks import Stack, twin

# One hand-written Adam update of the flat parameter (engine/adam.py): the same weights as
# torch.optim.Adam, without its per-step Python; measured gain in benchmarks/README.md, "Levers".
FLAT_ADAM = True


def select(x: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor | None:
    """x's rows (dim 0) in `rows`; None stands for all of them in order (no copy)."""
    return x if x is None or rows is None else x.index_select(0, rows)


def fit(
    stacks: Sequence[tuple[Stack, list[int]]],
    data: Data,
    steps: int,
    lr: float,
    progress: bool,
    snapshots: dict[int, dict[int, nn.Module]] | None = None,
    loss: str = "bce",
) -> np.ndarray:
    """Train every stack for `steps` steps; returns losses (K, steps), models in input order.

    `loss` names one of `deepsets.engine.losses.LOSSES`; a model's loss is its mean over
    everything but the model axis.
    `snapshots`: for each step s it has as a key, it is filled with copies of the models as they
    were after s steps, by model index.
    """
    inits = [t for stack, _ in stacks for t in stack.init()]
    shapes, numels = [t.shape for t in inits], [t.numel() for t in inits]
    flat = torch.cat([t.reshape(-1) for t in inits]).requires_grad_(True)  # (P,)
    opt = FlatAdam(flat, lr) if FLAT_ADAM else torch.optim.Adam([flat], lr=lr, foreach=True)
    order = [i for _, index in stacks for i in index]  # model index of each loss column
    S, device = data.S, flat.device
    rows = [_rows([data.rows[i] for i in index], S, device) for _, index in stacks]
    label_rows = torch.tensor([data.rows[i] for i in order], device=flat.device)  # (K,)
    history = flat.new_empty(steps, len(order))  # (steps, K), fetched once at the end
    criterion = per_model(loss)

    def views(flat: torch.Tensor) -> Iterator[torch.Tensor]:
        """The stacked weights, in order, as views into flat (P,)."""
        return iter([w.view(s) for w, s in zip(torch.split(flat, numels), shapes, strict=True)])

    models = [stack for stack, _ in stacks]
    done = 0
    with tqdm(total=steps, desc="train", disable=not progress, leave=False) as bar:
        for X, y, mask in data.chunks(steps):
            y = y.index_select(1, label_rows)  # (T, K, B): every model's own labels
            for t in range(X.shape[0]):
                m = None if mask is None else mask[t]  # (S, B, N)
                params = views(flat)
                ps = [
                    s.forward(params, X[t] if r is None else X[t].index_select(0, r), select(m, r))
                    for s, r in zip(models, rows, strict=True)
                ]  # (K_s, B) per stack
                per = criterion(ps[0] if len(ps) == 1 else torch.cat(ps), y[t])  # (K,)
                opt.zero_grad()
                torch.autograd.backward(per.sum())  # the one backward of the package
                opt.step()
                history[done + t] = per.detach()
                if snapshots is not None and done + t + 1 in snapshots:
                    snapshots[done + t + 1].update(copies(stacks, views(flat.detach())))
            done += X.shape[0]
            bar.update(X.shape[0])
    trained = views(flat.detach())
    for stack, _ in stacks:
        stack.write_back(trained)
    losses = np.empty((len(data.rows), steps))
    losses[order] = history.T.cpu().numpy()
    return losses


def copies(
    stacks: Sequence[tuple[Stack, list[int]]], trained: Iterator[torch.Tensor]
) -> dict[int, nn.Module]:
    """Copies of every stack's members with the weights `trained`, by model index, in eval mode."""
    out: dict[int, nn.Module] = {}
    for stack, index in stacks:
        members = [copy.deepcopy(m) for m in stack.models]
        twin(stack, members).write_back(trained)
        out.update(zip(index, (m.eval() for m in members), strict=True))
    return out


def _rows(rows: list[int], S: int, device: torch.device) -> torch.Tensor | None:
    """The stream rows of a stack's members as an index, or None when they are all S in order."""
    return None if rows == list(range(S)) else torch.tensor(rows, device=device)
