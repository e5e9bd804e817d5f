"""The engine's training loop: the plain loop of `deepsets.training.train`, on stacks of models.

Shape letters: T steps in a chunk, S distinct data streams, K models, B sets, N objects, F features.

Each stack's weights are leaf tensors (K_s, ...) with a leading member axis; a step is one
forward of every stack, the sum of the members' mean losses, one `backward()` and one Adam
step. The members share no weights and Adam is elementwise, so each gets exactly the gradient
and the update its own loop would give it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepsets.engine.families import Stack, twin
from deepsets.engine.losses import per_model
from deepsets.engine.settings import EngineSettings
from deepsets.engine.sources import Data
from deepsets.training import FUSED, check_step, progress_bar


def select(x: torch.Tensor | None, rows: torch.Tensor | None) -> torch.Tensor | None:
    """x's rows (dim 0) in `rows`; None stands for all of them in order (no copy)."""
    return x if x is None or rows is None else x.index_select(0, rows)


def fit(
    stacks: Sequence[tuple[Stack, list[int]]],
    data: Data,
    s: EngineSettings,
    snapshots: dict[int, dict[int, nn.Module]] | None = None,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Train every stack for `s.steps` steps with `s.loss` (a model's loss is its mean over
    everything but the model axis); returns losses (K, steps), models in input order.

    `snapshots`: for each step it has as a key, it is filled with copies of the models as they
    were after that many steps, by model index. `names`: the models' names in errors (by
    model index; default `models[i]`).
    """
    weights = [[w.clone().requires_grad_(True) for w in stack.init()] for stack, _ in stacks]
    every = [w for ws in weights for w in ws]
    opt = torch.optim.Adam(every, s.lr, fused=FUSED or None)
    criterion = per_model(s.loss)
    order = [i for _, index in stacks for i in index]  # the model of each loss column
    device = every[0].device
    rows = [streams([data.rows[i] for i in ix], data.S, device) for _, ix in stacks]
    label_rows = torch.tensor([data.rows[i] for i in order], device=device)
    history = every[0].new_empty(s.steps, len(order))  # (steps, K), fetched once at the end
    done = 0
    with progress_bar(s.steps, f"train {len(order)} models", s.progress) as bar:
        for X, y, mask in data.chunks(s.steps):  # (T, S, B, N, F), (T, S, B, *O), (T, S, B, N)
            y = y.index_select(1, label_rows)  # (T, K, B, *O): every model's own targets
            for t in range(X.shape[0]):
                m = None if mask is None else mask[t]  # (S, B, N)
                ps = [
                    stack.forward(iter(ws), X[t] if r is None else X[t].index_select(0, r),
                                  select(m, r))
                    for (stack, _), ws, r in zip(stacks, weights, rows, strict=True)
                ]  # (K_s, B, *O) per stack
                p = ps[0] if len(ps) == 1 else torch.cat(ps)  # (K, B, *O)
                try:
                    per = criterion(p, y[t])  # (K,)
                except RuntimeError:  # torch's word for NaN outputs: say whose, and when
                    for k, p_k in zip(order, p, strict=True):
                        name = f"models[{k}]" if names is None else names[k]
                        check_step(p_k, name, done + t + 1, s.steps, s.lr)
                    raise
                opt.zero_grad()
                torch.autograd.backward(per.sum())
                opt.step()
                history[done + t] = per.detach()
                if snapshots is not None and done + t + 1 in snapshots:
                    snapshots[done + t + 1].update(copies(stacks, weights))
            done += X.shape[0]
            bar.update(X.shape[0])
    with torch.no_grad():
        for (stack, _), ws in zip(stacks, weights, strict=True):
            stack.write_back(iter(ws))
    losses = np.empty((len(data.rows), s.steps))
    losses[order] = history.T.cpu().double().numpy()  # numpy has no bfloat16
    return losses


def copies(
    stacks: Sequence[tuple[Stack, list[int]]], weights: Sequence[Sequence[torch.Tensor]]
) -> dict[int, nn.Module]:
    """Copies of every stack's members with `weights`, by model index, in eval mode."""
    out: dict[int, nn.Module] = {}
    with torch.no_grad():
        for (stack, index), ws in zip(stacks, weights, strict=True):
            members = [copy.deepcopy(m) for m in stack.models]
            twin(stack, members).write_back(iter(ws))
            out.update(zip(index, (m.eval() for m in members), strict=True))
    return out


def streams(rows: list[int], S: int, device: torch.device) -> torch.Tensor | None:
    """The stream rows of a stack's members as an index, or None when they are all S in order."""
    return None if rows == list(range(S)) else torch.tensor(rows, device=device)

