"""Train many models at once: models of one architecture share stacked (K, ...) weights.

Shape letters: K models in a group, S distinct seeds, B sets, N objects, F features, H hidden.

A tiny model spends its time on Python and kernel-launch overhead, not arithmetic, so
`train_many` groups the models by architecture and runs each group as one batched network:
every `nn.Linear` of the group becomes one `baddbmm` over stacked weights (K, in, out), the
K losses are summed for a single backward pass, and one multi-tensor Adam updates every
group's weights together. Adam is elementwise, so a stacked parameter gets exactly the update
each member's own Adam would give it.

Data is per model: member k sees exactly the stream `train(model_k, seed=seeds[k])` would see
(its own generator seeded with seeds[k], drawn in the same chunks). Models that share a seed
share that stream, and it is made once: the study's runs reuse seeds 0..4 across all variants.

Supported architectures run stacked: `DeepSet` (any hidden, latent, pooling, activation) and
`nn.Sequential` MLPs of Flatten, Linear and activation layers (what `make_mlp` builds). Any
other module is trained on its own with `train`, so `train_many` accepts every model `train`
accepts.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from deepsets.data import as_generator, make_batches
from deepsets.models.deepset import DeepSet
from deepsets.models.pooling import pool
from deepsets.training import check_training_args, make_adam, model_device, show_progress, train

CHUNK = 250  # batches made per generator call; must match deepsets.data.stream's default


# elementwise, parameter-free layers the stacked forward knows, as plain functions
ELEMENTWISE: dict[type[nn.Module], Callable[[nn.Module], Callable]] = {
    nn.Tanh: lambda m: torch.tanh,
    nn.ReLU: lambda m: torch.relu,
    nn.Sigmoid: lambda m: torch.sigmoid,
    nn.Identity: lambda m: lambda x: x,
    nn.GELU: lambda m: lambda x: F.gelu(x, approximate=m.approximate),
}


def _layer_key(m: nn.Module) -> tuple | None:
    """What makes two layers interchangeable in a stack; None if the stack cannot run it."""
    if type(m) is nn.Linear:
        return ("linear", m.in_features, m.out_features, m.bias is not None)
    if type(m) in ELEMENTWISE:
        return (type(m).__name__, getattr(m, "approximate", None))
    if type(m) is nn.Flatten:
        return ("flatten", m.start_dim, m.end_dim)
    return None


def _sequential_key(seq: nn.Module) -> tuple | None:
    if type(seq) is not nn.Sequential:
        return None
    keys = tuple(_layer_key(m) for m in seq)
    return None if any(k is None for k in keys) else keys


def architecture(model: nn.Module) -> tuple | None:
    """A hashable description of `model`'s architecture, or None if it cannot be stacked."""
    params = list(model.parameters())
    if not params or any(not p.requires_grad for p in params):
        return None
    dtype, device = params[0].dtype, params[0].device
    if dtype != torch.float32 or any(p.dtype != dtype or p.device != device for p in params):
        return None
    if type(model) is DeepSet:
        phi, rho = _sequential_key(model.phi), _sequential_key(model.rho)
        if phi is None or rho is None or any(k[0] == "flatten" for k in phi + rho):
            return None
        body = ("deepset", model.pooling, phi, rho)
    else:
        seq = _sequential_key(model)
        if seq is None or any(k[0] == "flatten" for k in seq[1:]):
            return None  # a Flatten may only come first, as in make_mlp
        if seq and seq[0][0] == "flatten" and seq[0][1:] != (1, -1):
            return None
        body = ("sequential", seq)
    return (str(device), body)


class StackedSequential:
    """The layers of K `nn.Sequential`s of one architecture, as stacked weights.

    Activations are kept features-first, x (K, D, M) for M rows, so that every stacked matmul
    W (K, out, in) @ x (K, in, M) has the long dimension M innermost: with D of 1 to 5 this is
    about ten times faster on a CPU than the rows-first (K, M, in) @ (K, in, out).
    """

    def __init__(self, seqs: Sequence[nn.Sequential]) -> None:
        self.ops: list[tuple] = []
        self.params: list[torch.Tensor] = []  # leaves (K, out, in) and (K, out, 1)
        self.targets: list[list[torch.Tensor]] = []  # the members' own tensors, per leaf
        for layers in zip(*seqs, strict=True):
            first = layers[0]
            if type(first) is nn.Linear:
                self._add([m.weight for m in layers], lambda w: w)
                if first.bias is not None:
                    self._add([m.bias for m in layers], lambda b: b.unsqueeze(-1))
                self.ops.append(("linear", first.bias is not None))
            elif type(first) is nn.Flatten:
                self.ops.append(("flatten",))
            else:
                self.ops.append(("fn", ELEMENTWISE[type(first)](first)))

    def _add(self, originals: list[torch.Tensor], shape: Callable) -> None:
        stacked = torch.stack([shape(t.detach()) for t in originals])  # (K, ...)
        self.params.append(stacked.contiguous().requires_grad_(True))
        self.targets.append(originals)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, D, M) -> (K, D', M), every member through its own weights."""
        p = iter(self.params)
        for op in self.ops:
            if op[0] == "linear":
                W = next(p)  # (K, out, in)
                x = torch.baddbmm(next(p), W, x) if op[1] else torch.bmm(W, x)  # (K, out, M)
            elif op[0] == "fn":
                x = op[1](x)
        return x

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the trained stacked weights into the original modules, in place."""
        for stacked, originals in zip(self.params, self.targets, strict=True):
            for k, target in enumerate(originals):
                target.copy_(stacked[k].view_as(target))


class Group:
    """K models of one architecture trained as one stacked network."""

    def __init__(self, models: list[nn.Module], index: list[int], rows: list[int]) -> None:
        self.models, self.index = models, index
        self.rows = rows  # member k's data stream is row rows[k] of the distinct seeds
        self.deepset = type(models[0]) is DeepSet
        if self.deepset:
            self.pooling = models[0].pooling
            self.phi = StackedSequential([m.phi for m in models])
            self.rho = StackedSequential([m.rho for m in models])
            self.parts = [self.phi, self.rho]
        else:
            self.net = StackedSequential(models)
            self.parts = [self.net]
        self.params = [p for part in self.parts for p in part.params]
        self._rows: torch.Tensor | None = None

    def select(self, X: torch.Tensor) -> torch.Tensor:
        """This group's rows of a batch of every distinct stream: (S, ...) -> (K, ...)."""
        if self.rows == list(range(X.shape[0])):
            return X
        if self._rows is None:
            self._rows = torch.tensor(self.rows, device=X.device)
        return X.index_select(0, self._rows)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X (K, B, N, F) -> probabilities (K, 1, B)."""
        K, B, N, F_ = X.shape
        if not self.deepset:
            return self.net(X.reshape(K, B, N * F_).transpose(1, 2))  # (K, 1, B)
        x = X.reshape(K, B * N, F_).transpose(1, 2)  # (K, F, B*N)
        h = self.phi(x)  # (K, L, B*N)
        L = h.shape[1]
        z = pool(h.reshape(K * L * B, N, 1), None, self.pooling)  # (K*L*B, 1)
        return self.rho(z.view(K, L, B))  # (K, 1, B)

    def write_back(self) -> None:
        for part in self.parts:
            part.write_back()


def _check_inputs(models: object, seeds: object) -> None:
    if not isinstance(models, Sequence) or isinstance(models, nn.Module):
        raise TypeError(f"models must be a list of torch.nn.Module, got {type(models).__name__}")
    if len(models) == 0:
        raise ValueError("models must be a non-empty list of torch.nn.Module, got an empty list")
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be a torch.nn.Module, got {type(m).__name__}")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("models must be distinct objects (the same module appears twice)")
    if not isinstance(seeds, Sequence) or isinstance(seeds, str):
        raise TypeError(f"seeds must be a list of integers, got {type(seeds).__name__}")
    if len(seeds) != len(models):
        raise ValueError(f"need one seed per model, got {len(models)} models, {len(seeds)} seeds")
    for i, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"seeds[{i}] must be an integer, got {s!r}")


def train_many(
    models: list[nn.Module],
    steps: int = 4000,
    *,
    seeds: list[int],
    batch_size: int = 100,
    lr: float = 1e-3,
    n_objects: int = 10,
    progress: bool | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train every model as `train(model_k, steps, seed=seeds[k], ...)` would, all at once.

    Arguments:
        models: K networks mapping X (B, N, 1) to probabilities (B, 1); any mix of
            architectures. They are trained in place.
        steps: optimisation steps of every model.
        seeds: K integer seeds; model k trains on the data stream of seeds[k] (the stream is
            per model; models given the same seed see the same batches).
        batch_size, lr, n_objects, progress: as in `train`.

    Returns:
        The same K model objects, trained, in input order, and their losses (K, steps).
    """
    _check_inputs(models, seeds)
    check_training_args(steps, batch_size, lr)
    models = list(models)
    K = len(models)
    by_arch: dict[tuple, list[int]] = {}
    alone: list[int] = []
    for i, m in enumerate(models):
        key = architecture(m)
        if key is None:
            alone.append(i)
        else:
            by_arch.setdefault(key, []).append(i)
    losses = np.empty((K, steps))
    by_device: dict[str, list[list[int]]] = {}
    for key, index in by_arch.items():
        by_device.setdefault(key[0], []).append(index)
    for groups in by_device.values():
        _train_stacked(models, groups, seeds, steps, batch_size, lr, n_objects, progress, losses)
    for i in alone:
        _, losses[i] = train(
            models[i],
            steps,
            batch_size=batch_size,
            lr=lr,
            seed=seeds[i],
            n_objects=n_objects,
            progress=progress,
        )
    return models, losses


def _train_stacked(
    models: list[nn.Module],
    groups: list[list[int]],
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    lr: float,
    n_objects: int,
    progress: bool | None,
    losses: np.ndarray,
) -> None:
    """Train the groups (lists of model indices, one device) together; fill losses' rows."""
    device = model_device(models[groups[0][0]])
    distinct = list(dict.fromkeys(int(seeds[i]) for index in groups for i in index))  # (S,)
    row = {s: r for r, s in enumerate(distinct)}
    stacks = [
        Group([models[i] for i in index], index, [row[int(seeds[i])] for i in index])
        for index in groups
    ]
    gens = [as_generator(s, device) for s in distinct]
    order = [i for g in stacks for i in g.index]  # model index of each loss column
    for g in stacks:
        for m in g.models:
            m.train()
    opt = make_adam([p for g in stacks for p in g.params], lr)
    history = torch.empty(steps, len(order), device=device)  # (T, K), fetched once at the end
    bar = tqdm(total=steps, desc="train_many", disable=not show_progress(progress), leave=False)
    done = 0
    while done < steps:
        t = min(CHUNK, steps - done)
        batches = [make_batches(t, batch_size, n_objects=n_objects, generator=g) for g in gens]
        X_all = torch.stack([X for X, _ in batches], dim=1)  # (t, S, B, N, 1)
        y_all = torch.stack([y for _, y in batches], dim=1)  # (t, S, B, 1)
        for i in range(t):
            step_losses = []
            for g in stacks:
                X, y = g.select(X_all[i]), g.select(y_all[i])  # (K, B, N, 1), (K, B, 1)
                p = g.forward(X)  # (K, 1, B)
                y = y.transpose(1, 2)  # (K, 1, B)
                if done + i == 0 and p.shape != y.shape:
                    raise ValueError(
                        f"the models must map (B, N, 1) to (B, 1), got {tuple(p.shape[1:])}"
                    )
                bce = F.binary_cross_entropy(p, y, reduction="none")  # (K, 1, B)
                step_losses.append(bce.mean(dim=(1, 2)))  # (K,)
            loss = torch.cat(step_losses)  # (sum K,)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # members share no weights: each gets its own gradient
            opt.step()
            history[done + i] = loss.detach()
        done += t
        bar.update(t)
    bar.close()
    for g in stacks:
        g.write_back()
        for m in g.models:
            m.eval()
    losses[order] = history.T.cpu().numpy().astype(np.float64)
