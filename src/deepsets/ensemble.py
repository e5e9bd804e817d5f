"""Train many models at once: models of one architecture share stacked (K, ...) weights.

Shape letters: K models in a stack, S distinct seeds, B sets, N objects, F features, M rows.

A tiny model spends its time on Python and kernel-launch overhead, not arithmetic, so
`train_many` groups the models into stacks and runs each stack as one batched network:
every `nn.Linear` becomes one `baddbmm` over stacked weights (K, out, in), the losses of all
models are summed for a single backward pass, and one multi-tensor Adam updates one flat
parameter holding every stack. Adam is elementwise, so each weight gets the update its own
model's Adam would give it.

Stacks: DeepSets that differ only in pooling share one (each pools its own slice); MLPs that
differ only in narrow hidden widths share one zero-padded to 16 or 32 units, which is exact
for activations with f(0) = 0 (the padded units and their weights stay exactly 0).

Data is per model: member k sees exactly the stream `train(model_k, seed=seeds[k])` would see
(its own generator seeded with seeds[k], drawn in the same chunks of 250 batches). Models given
the same seed share that stream, made once: the study's runs reuse seeds 0..4 for every
variant. The next chunk is made in a background thread while the current one trains. With
`sizes=(lo, hi)` the streams are padded sets of varying size (`make_padded_batches`) and each
DeepSet pools with its set's mask.

Equality with `train`: the same maths, rounded differently in the last bit (batched matmuls
sum in another order). Over a few hundred steps members agree with `train` to ~1e-6; over
thousands, a DeepSet's escape from its ln 2 plateau amplifies rounding, so long runs agree in
distribution, not digit by digit (as would `train` on another BLAS).

Stacks are shared out over `workers` Python threads, one core each. Any module that is not a
`DeepSet` or an `nn.Sequential` of Flatten, Linear and activations is trained on its own by
`train`, so `train_many` accepts every model `train` accepts.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from deepsets.data import as_generator, make_batches, make_padded_batches
from deepsets.models.deepset import DeepSet
from deepsets.models.pooling import POOLINGS, pool
from deepsets.training import (
    check_training_args,
    make_adam,
    model_device,
    run_model,
    show_progress,
    train,
)

CHUNK = 250  # batches made per generator call; must match deepsets.data.stream's default


# elementwise, parameter-free layers the stacked forward knows, as plain functions
ELEMENTWISE: dict[type[nn.Module], Callable[[nn.Module], Callable]] = {
    nn.Tanh: lambda m: torch.tanh,
    nn.ReLU: lambda m: torch.relu,
    nn.Sigmoid: lambda m: torch.sigmoid,
    nn.Identity: lambda m: lambda x: x,
    nn.GELU: lambda m: lambda x: F.gelu(x, approximate=m.approximate),
}
# f(0) = 0: a hidden unit with zero weights in and out stays exactly 0, and so do its weights
# (zero gradient, zero Adam step), so narrow MLPs can be padded into a wider stack exactly
ZERO_AT_ZERO = (nn.Tanh, nn.ReLU, nn.Identity, nn.GELU)


def padded(width: int) -> int:
    """The stack width of a hidden layer: narrow ones share a stack, wide ones keep theirs.

    Padding costs arithmetic and saves a group's per-step overhead (about 20 kernel launches),
    which only pays for narrow layers.
    """
    return 16 if width <= 16 else 32 if width <= 32 else width


def _layer_key(m: nn.Module) -> tuple | None:
    """What makes two layers interchangeable in a stack (widths aside); None if unsupported."""
    if type(m) is nn.Linear:
        return ("linear", m.bias is not None)
    if type(m) in ELEMENTWISE:
        return (type(m).__name__, getattr(m, "approximate", None))
    if type(m) is nn.Flatten:
        return ("flatten", m.start_dim, m.end_dim)
    return None


def _stack_shapes(seq: nn.Sequential, pad: bool) -> list[tuple[int, int]]:
    """(out, in) of each Linear in the stack; hidden widths padded when that is exact."""
    layers = list(seq)
    linear = [i for i, m in enumerate(layers) if type(m) is nn.Linear]
    shapes, prev = [], None
    for j, i in enumerate(linear):
        m = layers[i]
        out = m.out_features
        between = layers[i + 1 : linear[j + 1]] if j + 1 < len(linear) else None
        if pad and between is not None and all(isinstance(b, ZERO_AT_ZERO) for b in between):
            out = padded(out)
        shapes.append((out, m.in_features if prev is None else prev))
        prev = out
    return shapes


def _sequential_key(seq: nn.Module, pad: bool) -> tuple | None:
    if type(seq) is not nn.Sequential:
        return None
    keys = tuple(_layer_key(m) for m in seq)
    if any(k is None for k in keys):
        return None
    return keys + tuple(_stack_shapes(seq, pad))


def architecture(model: nn.Module) -> tuple | None:
    """The key of `model`'s stack (models with one key train together), None if unsupported.

    DeepSets differing only in pooling share a stack; MLPs differing only in narrow hidden
    widths share one padded to a common width (see `padded`).
    """
    params = list(model.parameters())
    if not params or any(not p.requires_grad for p in params):
        return None
    dtype, device = params[0].dtype, params[0].device
    if dtype != torch.float32 or any(p.dtype != dtype or p.device != device for p in params):
        return None
    if type(model) is DeepSet:
        phi, rho = _sequential_key(model.phi, False), _sequential_key(model.rho, False)
        if (
            phi is None
            or rho is None
            or any(type(m) is nn.Flatten for m in (*model.phi, *model.rho))
        ):
            return None
        body = ("deepset", phi, rho)
    else:
        seq = _sequential_key(model, True)
        flatten = [i for i, m in enumerate(model.children()) if type(m) is nn.Flatten]
        if seq is None or flatten != [0] or seq[0] != ("flatten", 1, -1):
            return None  # an MLP flattens (B, N, F) first, as make_mlp's does, and only then
        body = ("sequential", seq)
    return (str(device), body)


class StackedSequential:
    """The layers of K `nn.Sequential`s of one stack key, as stacked (padded) weights.

    Activations are kept features-first, x (K, D, M) for M rows, so that every stacked matmul
    W (K, out, in) @ x (K, in, M) has the long dimension M innermost: with D of 1 to 5 this is
    about ten times faster on a CPU than the rows-first (K, M, in) @ (K, in, out).
    """

    def __init__(self, seqs: Sequence[nn.Sequential], pad: bool) -> None:
        self.ops: list[tuple] = []
        self.inits: list[torch.Tensor] = []  # initial stacked weights (K, out, in), (K, out, 1)
        self.targets: list[list[torch.Tensor]] = []  # the members' own tensors, per stack
        shapes = iter(_stack_shapes(seqs[0], pad))
        for layers in zip(*seqs, strict=True):
            first = layers[0]
            if type(first) is nn.Linear:
                out, inp = next(shapes)
                self._add([m.weight for m in layers], (out, inp))
                if first.bias is not None:
                    self._add([m.bias.unsqueeze(-1) for m in layers], (out, 1))
                self.ops.append(("linear", first.bias is not None))
            elif type(first) is nn.Flatten:
                self.ops.append(("flatten",))
            else:
                self.ops.append(("fn", ELEMENTWISE[type(first)](first)))

    def _add(self, originals: list[torch.Tensor], shape: tuple[int, int]) -> None:
        stacked = originals[0].new_zeros(len(originals), *shape)  # (K, out, in), zero padding
        for k, t in enumerate(originals):
            stacked[k, : t.shape[0], : t.shape[1]] = t.detach()
        self.inits.append(stacked)
        self.targets.append(originals)

    def __call__(self, x: torch.Tensor, params: Iterator[torch.Tensor]) -> torch.Tensor:
        """x (K, D, M) -> (K, D', M), every member through its own weights."""
        for op in self.ops:
            if op[0] == "linear":
                W = next(params)  # (K, out, in)
                x = torch.baddbmm(next(params), W, x) if op[1] else torch.bmm(W, x)  # (K, out, M)
            elif op[0] == "fn":
                x = op[1](x)
        return x

    @torch.no_grad()
    def write_back(self, trained: Iterator[torch.Tensor]) -> None:
        """Copy the trained stacked weights into the original modules, in place."""
        for originals in self.targets:
            stacked = next(trained)
            for k, t in enumerate(originals):
                t.copy_(stacked[k, : t.shape[0], : t.shape[1]])


class Group:
    """The models of one stack key, trained as one stacked network."""

    def __init__(self, models: list[nn.Module], index: list[int], rows: list[int]) -> None:
        self.deepset = type(models[0]) is DeepSet
        if self.deepset:  # members ordered by pooling: each pooling pools one slice of the stack
            order = sorted(range(len(models)), key=lambda k: POOLINGS.index(models[k].pooling))
            models, index, rows = ([v[k] for k in order] for v in (models, index, rows))
            self.runs: list[tuple[str, int, int]] = []  # (pooling, first member, count)
            for k, m in enumerate(models):
                if self.runs and self.runs[-1][0] == m.pooling:
                    p, a, n = self.runs[-1]
                    self.runs[-1] = (p, a, n + 1)
                else:
                    self.runs.append((m.pooling, k, 1))
            self.parts = [
                StackedSequential([m.phi for m in models], False),
                StackedSequential([m.rho for m in models], False),
            ]
        else:
            self.parts = [StackedSequential(models, True)]
        self.models, self.index = models, index
        self.rows = rows  # member k's data stream is row rows[k] of the distinct seeds
        self.inits = [t for part in self.parts for t in part.inits]
        self._rows: torch.Tensor | None = None

    def select(self, X: torch.Tensor) -> torch.Tensor:
        """This group's rows of a batch of every distinct stream: (S, ...) -> (K, ...)."""
        if self.rows == list(range(X.shape[0])):
            return X
        if self._rows is None:
            self._rows = torch.tensor(self.rows, device=X.device)
        return X.index_select(0, self._rows)

    def forward(
        self, X: torch.Tensor, mask: torch.Tensor | None, params: Iterator[torch.Tensor]
    ) -> torch.Tensor:
        """X (K, B, N, F), mask (K, B, N) or None -> probabilities (K, 1, B), stacked weights."""
        K, B, N, F_ = X.shape
        if not self.deepset:
            return self.parts[0](X.reshape(K, B, N * F_).transpose(1, 2), params)  # (K, 1, B)
        phi, rho = self.parts
        h = phi(X.reshape(K, B * N, F_).transpose(1, 2), params)  # (K, L, B*N)
        L = h.shape[1]
        z = [
            pool(h[a : a + n].reshape(n * L * B, N, 1), _mask(mask, a, n, L), kind)  # (n*L*B, 1)
            for kind, a, n in self.runs
        ]
        z = z[0] if len(z) == 1 else torch.cat(z)  # (K*L*B, 1)
        return rho(z.view(K, L, B), params)  # (K, 1, B)

    def write_back(self, trained: Iterator[torch.Tensor]) -> None:
        for part in self.parts:
            part.write_back(trained)


def _mask(mask: torch.Tensor | None, a: int, n: int, L: int) -> torch.Tensor | None:
    """Members a..a+n of a stacked mask (K, B, N), repeated over L latents: (n*L*B, N)."""
    if mask is None:
        return None
    m = mask[a : a + n]  # (n, B, N)
    return m.unsqueeze(1).expand(n, L, *m.shape[1:]).reshape(-1, m.shape[-1])  # (n*L*B, N)


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
    sizes: tuple[int, int] | None = None,
    progress: bool | None = None,
    workers: int | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train every model as `train(model_k, steps, seed=seeds[k], ...)` would, all at once.

    Arguments:
        models: K networks mapping X (B, N, 1) to probabilities (B, 1); any mix of
            architectures. They are trained in place.
        steps: optimisation steps of every model.
        seeds: K integer seeds; model k trains on the data stream of seeds[k] (the stream is
            per model; models given the same seed see the same batches).
        batch_size, lr, n_objects, progress: as in `train`.
        sizes: (lo, hi) to train on sets of varying size, as in `train`: DeepSets are stacked
            with their masks; other models go to `train`, which rejects them.
        workers: Python threads, each training its share of the stacks on one core (torch
            releases the GIL inside kernels); default `recommended_workers()`. Results do not
            depend on it, except when there are fewer stacks than workers: those stacks are
            split, and a smaller stack rounds differently in the last bit.
            Keep torch's own threads at `deepsets.training.recommended_threads()`.

    Returns:
        The same K model objects, trained, in input order, and their losses (K, steps).
    """
    _check_inputs(models, seeds)
    check_training_args(steps, batch_size, lr)
    workers = recommended_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    models = list(models)
    K = len(models)
    by_arch: dict[tuple, list[int]] = {}
    alone: list[int] = []
    for i, m in enumerate(models):
        key = architecture(m) if sizes is None or type(m) is DeepSet else None
        if key is None:
            alone.append(i)
        else:
            by_arch.setdefault(key, []).append(i)
    losses = np.empty((K, steps))
    by_device: dict[str, list[list[int]]] = {}
    for key, index in by_arch.items():
        _check_output(models[index[0]], n_objects)  # before any thread starts training
        by_device.setdefault(key[0], []).append(index)
    for device, groups in by_device.items():
        parts = _balance(models, groups, workers if device == "cpu" else 1, batch_size, n_objects)
        args = (seeds, steps, batch_size, lr, n_objects, sizes)
        if len(parts) == 1:
            _train_stacked(models, parts[0], *args, progress, losses)
            continue
        with ThreadPoolExecutor(len(parts)) as pool:
            jobs = [
                pool.submit(
                    _train_stacked, models, part, *args, progress if j == 0 else False, losses
                )
                for j, part in enumerate(parts)
            ]
            for job in jobs:
                job.result()
    for i in alone:
        _, losses[i] = train(
            models[i],
            steps,
            batch_size=batch_size,
            lr=lr,
            seed=seeds[i],
            n_objects=n_objects,
            sizes=sizes,
            progress=progress,
        )
    return models, losses


@torch.no_grad()
def _check_output(model: nn.Module, n_objects: int) -> None:
    """Raise a ValueError unless `model` maps X (B, N, 1) to (B, 1)."""
    run_model(model, torch.zeros(2, n_objects, 1, device=model_device(model)))  # (B, N, F)


def _cost(model: nn.Module, batch_size: int, n_objects: int) -> float:
    """Rough per-step cost of one member: multiply-adds plus activations (weighted 30, as an
    activation and its gradient cost about that much more than a multiply-add here)."""

    def work(seq: nn.Module, rows: int) -> int:
        linears = [m for m in seq.modules() if type(m) is nn.Linear]
        macs = sum(m.weight.numel() for m in linears)
        return rows * (macs + 30 * sum(m.out_features for m in linears))

    if type(model) is DeepSet:
        return work(model.phi, batch_size * n_objects) + work(model.rho, batch_size)
    return work(model, batch_size)


def _balance(
    models: list[nn.Module], groups: list[list[int]], workers: int, batch_size: int, n_objects: int
) -> list[list[list[int]]]:
    """Split the groups into at most `workers` parts of about equal cost (largest first)."""
    overhead = 1.3e6  # a group's fixed cost per step (launches, autograd), measured in work units
    if len(groups) < workers:  # too few stacks to share: split them into parts of members
        groups = [g[j::workers] for g in groups for j in range(min(workers, len(g)))]
    cost = [overhead + sum(_cost(models[i], batch_size, n_objects) for i in g) for g in groups]
    parts: list[list[list[int]]] = [[] for _ in range(min(workers, len(groups)))]
    load = [0.0] * len(parts)
    for j in sorted(range(len(groups)), key=lambda j: -cost[j]):
        b = load.index(min(load))
        parts[b].append(groups[j])
        load[b] += cost[j]
    return parts


def recommended_workers() -> int:
    """`train_many` worker threads: one per CPU core, at most 2 (the study's stacks are few).

    Unlike torch's intra-op threads, a worker runs whole stacks and never waits for another;
    with torch on one thread (`deepsets.training.recommended_threads`), two workers trained
    the study 1.2x faster on a busy 2-core CPU, with identical results.
    """
    return max(1, min(2, os.cpu_count() or 1))


def _views(flat: torch.Tensor, sizes: list[int], shapes: list) -> Iterator[torch.Tensor]:
    """The stacked weights as views into the flat parameter (P,), in order."""
    return iter([w.view(shape) for w, shape in zip(flat.split(sizes), shapes, strict=True)])


def _train_stacked(
    models: list[nn.Module],
    groups: list[list[int]],
    seeds: Sequence[int],
    steps: int,
    batch_size: int,
    lr: float,
    n_objects: int,
    set_sizes: tuple[int, int] | None,
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
    # Every stacked weight is a view into one flat leaf: the backward of `split` is a single
    # cat, and Adam updates one tensor per step instead of hundreds.
    inits = [t for g in stacks for t in g.inits]
    shapes, sizes = [t.shape for t in inits], [t.numel() for t in inits]
    flat = torch.cat([t.flatten() for t in inits]).requires_grad_(True)  # (P,)
    opt = make_adam([flat], lr)
    history = torch.empty(steps, len(order), device=device)  # (T, K), fetched once at the end
    bar = tqdm(total=steps, desc="train_many", disable=not show_progress(progress), leave=False)

    every_row = torch.tensor([r for g in stacks for r in g.rows], device=device)  # (sum K,)

    def make_chunk(t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The next t batches: X (t, S, B, N, 1) of every distinct stream, the labels of
        every model's stream in stack order, y (t, sum K, 1, B), and masks (t, S, B, N)."""
        if set_sizes is None:
            batches = [make_batches(t, batch_size, n_objects=n_objects, generator=g) for g in gens]
        else:
            batches = [make_padded_batches(t, batch_size, set_sizes, generator=g) for g in gens]
        X_all = torch.stack([b[0] for b in batches], dim=1)  # (t, S, B, N, 1)
        y_all = torch.stack([b[1] for b in batches], dim=1).transpose(2, 3)  # (t, S, 1, B)
        M_all = None if set_sizes is None else torch.stack([b[2] for b in batches], dim=1)
        return X_all, y_all.index_select(1, every_row), M_all  # y: (t, sum K, 1, B)

    # The next chunk of data is made in a background thread while this one trains; the
    # generators are only ever used there, one chunk after another, so the streams are unchanged.
    sizes_t = [min(CHUNK, steps - d) for d in range(0, steps, CHUNK)]
    with ThreadPoolExecutor(1) as maker:
        pending = maker.submit(make_chunk, sizes_t[0])
        done = 0
        for c, t in enumerate(sizes_t):
            X_all, y_all, M_all = pending.result()
            if c + 1 < len(sizes_t):
                pending = maker.submit(make_chunk, sizes_t[c + 1])
            for i in range(t):
                params = _views(flat, sizes, shapes)
                p = [
                    g.forward(
                        g.select(X_all[i]), None if M_all is None else g.select(M_all[i]), params
                    )
                    for g in stacks
                ]  # (K, 1, B) each
                p = p[0] if len(p) == 1 else torch.cat(p)  # (sum K, 1, B)
                bce = F.binary_cross_entropy(p, y_all[i], reduction="none")  # (sum K, 1, B)
                loss = bce.mean(dim=(1, 2))  # (sum K,)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()  # members share no weights: each gets its own gradient
                opt.step()
                history[done + i] = loss.detach()
            done += t
            bar.update(t)
    bar.close()
    trained = _views(flat.detach(), sizes, shapes)
    for g in stacks:
        g.write_back(trained)
        for m in g.models:
            m.eval()
    losses[order] = history.T.cpu().numpy().astype(np.float64)
