"""Stacked forms: K models of one architecture run as one batched network, weights (K, ...).

Shape letters: K members, B sets, N objects, F features, D units of a layer, M rows.

A tiny model spends its time on per-op overhead, not arithmetic, so models of one architecture
train as one: every nn.Linear of the K members becomes one `baddbmm` over stacked weights
W (K, out, in). Activations are kept features-first, x (K, D, M), so the long dimension M is
innermost: with D of 1 to 5 that is about ten times faster on a CPU than (K, M, in) @ (K, in, out).

Each stack knows one model family: `from_models` builds it, `forward` runs it on views of the
trained weights, `write_back` copies the weights into the members. Any other nn.Module trains
as a `ModuleStack` of one, through its own forward (`torch.func.functional_call`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import torch
from torch import nn
from torch.func import functional_call

from deepsets.engine.activations import fast
from deepsets.models.activation import ACTIVATIONS
from deepsets.models.deepset import DeepSet
from deepsets.models.mlp import MLPSpec, mlp_spec
from deepsets.models.pooling import pool

Key = tuple[object, ...]  # what models must share to train as one stack

# parameter-free elementwise layers a stack applies as they are: the activations and the output
ELEMENTWISE = (*ACTIVATIONS.values(), nn.Sigmoid, nn.Identity)


class Stack(Protocol):
    """K models trained as one; the training loop sees only this."""

    models: list[nn.Module]

    def init(self) -> list[torch.Tensor]:
        """The members' initial weights, stacked: tensors (K, ...)."""
        ...

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """X (K, B, N, F), mask (K, B, N) or None -> outputs (K, B) (or (K, B, *O) for a
        model whose output per set is not one number), from `params`."""
        ...

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        """Copy trained weights (views as in `forward`) into the members, in place."""
        ...


def layer_key(m: nn.Module) -> Key | None:
    """What two layers must share to be stacked; None for a layer no stack knows."""
    if type(m) is nn.Linear and m.bias is not None:
        return ("linear", m.in_features, m.out_features)
    if type(m) in ELEMENTWISE:
        return (repr(m),)  # the type and its options, e.g. GELU(approximate='tanh')
    return None


class StackedLayers:
    """The Linear layers of K nn.Sequentials as stacked weights, and the elementwise layers
    between them, on x (K, D, M).

    The members' Linear layers have one shape each, or with `sizes` (the widths between the
    Linear layers) narrower members are zero-padded to them (see `padded_sizes` for when that is
    exact). The elementwise layers after each Linear may differ between runs of consecutive
    members (a DeepSet with tanh beside one with none): each run gets its own, on its slice.
    """

    def __init__(self, seqs: Sequence[nn.Sequential], sizes: Sequence[int] | None = None) -> None:
        self.members: list[list[torch.Tensor]] = []  # per stacked tensor, each member's own
        gaps = [split_at_linears(seq, self.members) for seq in seqs]  # per member, per Linear
        self.n_linear = len(gaps[0])
        self.shapes = [tuple(t.shape) for ts in self.members for t in ts[:1]]  # (out, in | 1)
        if sizes is not None:  # stacked (out, in) and (out, 1) of each Linear, padded
            pairs = zip(sizes[:-1], sizes[1:], strict=True)
            self.shapes = [s for a, b in pairs for s in ((b, a), (b, 1))]
        self.runs = runs([tuple(tuple(map(repr, gap)) for gap in g) for g in gaps])
        self.ops = [
            [[fast(m) for m in gaps[a][j]] for a, _ in self.runs] for j in range(self.n_linear)
        ]  # per Linear, per run: the elementwise layers after it
        self.fns = [[apply_all(ops) for ops in by_run] for by_run in self.ops]

    def init(self) -> list[torch.Tensor]:
        stacked = []
        for ts, shape in zip(self.members, self.shapes, strict=True):
            s = ts[0].new_zeros(len(ts), *shape)  # (K, out, in | 1): padding stays 0
            for k, t in enumerate(ts):
                s[k, : t.shape[0], : t.shape[1]] = t.detach()
            stacked.append(s)
        return stacked

    def __call__(self, x: torch.Tensor, params: Iterator[torch.Tensor]) -> torch.Tensor:
        """x (K, D, M) -> (K, D', M), every member through its own weights."""
        for j in range(self.n_linear):
            W, b = next(params), next(params)  # (K, out, in), (K, out, 1)
            x = torch.baddbmm(b, W, x)  # (K, out, M)
            x = by_run(x, self.runs, self.fns[j])
        return x

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        for ts in self.members:
            stacked = next(params)
            for k, t in enumerate(ts):
                t.copy_(stacked[k, : t.shape[0], : t.shape[1]])


def split_at_linears(
    seq: nn.Sequential, members: list[list[torch.Tensor]]
) -> list[list[nn.Module]]:
    """The elementwise layers after each Linear of `seq`; the Linear's weight (out, in) and bias
    (out, 1) are appended to the per-tensor lists of `members` (created for the first member)."""
    gaps: list[list[nn.Module]] = []
    j = 0
    for m in seq:
        if type(m) is nn.Linear:
            if len(members) < 2 * (j + 1):
                members += [[], []]
            members[2 * j].append(m.weight)
            members[2 * j + 1].append(m.bias.unsqueeze(-1))
            gaps.append([])
            j += 1
        else:
            gaps[-1].append(m)
    return gaps


def runs(signatures: Sequence[object]) -> list[tuple[int, int]]:
    """(first, count) of each run of equal consecutive signatures."""
    out: list[tuple[int, int]] = []
    for k, sig in enumerate(signatures):
        if out and signatures[out[-1][0]] == sig:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((k, 1))
    return out


def apply_all(ops: list[nn.Module]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The layers `ops` one after another, as one function."""

    def f(x: torch.Tensor) -> torch.Tensor:
        for op in ops:
            x = op(x)
        return x

    return f


def by_run(
    x: torch.Tensor,
    spans: list[tuple[int, int]],
    fns: Sequence[Callable[[torch.Tensor], torch.Tensor]],
) -> torch.Tensor:
    """fns[r] applied to run r's slice x[a : a + n] of x (K, ...); one call when one run."""
    if len(spans) == 1:
        return fns[0](x)
    return torch.cat([f(x[a : a + n]) for (a, n), f in zip(spans, fns, strict=True)])


def sequential_key(seq: nn.Module) -> Key | None:
    """The stack key of an nn.Sequential of known layers, None otherwise."""
    if type(seq) is not nn.Sequential:
        return None
    keys = tuple(layer_key(m) for m in seq)
    return None if any(k is None for k in keys) else keys


def linear_shapes(seq: nn.Module) -> Key | None:
    """The Linear shapes of an nn.Sequential of known layers (stackable whatever elementwise
    layers lie between them), None for any other module."""
    key = sequential_key(seq)
    return None if key is None else tuple(k for k in key if k[0] == "linear")  # type: ignore[index]


# DeepSets of one shape could share a stack whatever their activations and pooling, each
# variant on its slice; off: two records measured 1.10x and 1.18x, within the machine's noise
# (benchmarks/README.md, "Levers"), and separate stacks are simpler.
VARIANTS_SHARE = False


class StackedDeepSet:
    """K DeepSets of one shape: phi on every object, pool, rho. Members that differ in their
    activations or pooling share the stack's matmuls; each run of them has its own slice."""

    def __init__(self, models: Sequence[DeepSet]) -> None:
        self.models: list[nn.Module] = list(models)
        self.phi = StackedLayers([m.phi for m in models])
        self.rho = StackedLayers([m.rho for m in models])
        self.pool_runs = runs([m.pooling for m in models])
        self.poolings = [models[a].pooling for a, _ in self.pool_runs]

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        if type(model) is not DeepSet:
            return None
        parts = (linear_shapes(model.phi), linear_shapes(model.rho))
        variant = () if VARIANTS_SHARE else (StackedDeepSet.order(model),)
        return None if None in parts else ("DeepSet", *parts, *variant)

    @staticmethod
    def order(model: DeepSet) -> str:
        """Members sort by this within a stack, so that equal variants form runs."""
        return repr((sequential_key(model.phi), sequential_key(model.rho), model.pooling))

    def init(self) -> list[torch.Tensor]:
        return self.phi.init() + self.rho.init()

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        h = self.phi(X.reshape(K, B * N, F).transpose(1, 2), params)  # (K, L, B*N)
        z = [
            self.pool(h[a : a + n], None if mask is None else mask[a : a + n], kind, B)
            for (a, n), kind in zip(self.pool_runs, self.poolings, strict=True)
        ]  # (n, L, B) per run
        return self.rho(z[0] if len(z) == 1 else torch.cat(z), params)[:, 0]  # (K, B)

    @staticmethod
    def pool(h: torch.Tensor, mask: torch.Tensor | None, kind: str, B: int) -> torch.Tensor:
        """h (n, L, B*N), mask (n, B, N) or None -> pooled (n, L, B)."""
        n, L, BN = h.shape
        N = BN // B
        if mask is not None:  # the same mask for each of the L latent features
            mask = mask.unsqueeze(1).expand(n, L, B, N).reshape(n * L * B, N)  # (n*L*B, N)
        return pool(h.reshape(n * L * B, N, 1), mask, kind).view(n, L, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.phi.write_back(params)
        self.rho.write_back(params)


# Hidden widths up to 16 or 32 share a stack zero-padded to that width: fewer stacks, so fewer
# ops per step, for a little more arithmetic. Measured 1.15x in a run on the idle machine, and
# 1.13x and 1.02x in two records (benchmarks/README.md, "Levers").
PAD_TO: tuple[int, ...] = (16, 32)
ZERO_AT_ZERO = {"tanh", "relu", "gelu", None}  # f(0) = 0: padded units stay exactly 0


def padded_sizes(spec: MLPSpec) -> tuple[int, ...]:
    """The layer sizes of `spec`'s stack: hidden widths rounded up to a PAD_TO width.

    Exact when every activation has f(0) = 0: a padded unit has zero weights in and out, so its
    output is 0, its gradients are 0, and Adam leaves its weights at 0.
    """
    if not set(spec.activations) <= ZERO_AT_ZERO:
        return spec.sizes
    hidden = tuple(next((p for p in PAD_TO if w <= p), w) for w in spec.widths)
    return (spec.sizes[0], *hidden, spec.sizes[-1])


class StackedMLP:
    """K MLPs (as `make_mlp` builds): flatten the set, then dense layers, narrow ones padded."""

    def __init__(self, models: Sequence[nn.Sequential]) -> None:
        self.models: list[nn.Module] = list(models)
        spec = mlp_spec(models[0])
        assert spec is not None  # `key` admitted only MLPs
        seqs = [nn.Sequential(*list(m)[1:]) for m in models]
        self.layers = StackedLayers(seqs, padded_sizes(spec))

    @staticmethod
    def key(model: nn.Module) -> Key | None:
        spec = mlp_spec(model)  # the one description of an MLP (models/mlp.py)
        if spec is None or spec.sizes[-1] != 1:  # a stack returns one number per set
            return None
        return ("MLP", padded_sizes(spec), spec.activations, spec.sigmoid)

    def init(self) -> list[torch.Tensor]:
        return self.layers.init()

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        K, B, N, F = X.shape
        x = X.reshape(K, B, N * F).transpose(1, 2)  # (K, N*F, B)
        return self.layers(x, params)[:, 0]  # (K, B)

    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        self.layers.write_back(params)


class ModuleStack:
    """Any other nn.Module, alone (K = 1), through its own forward with the trained weights.

    Weights are swapped in per slot (a module's attribute), not per name: a submodule reachable
    by two names (registered twice) has one slot, and a weight shared by two modules (tied) fills
    both of its slots. torch.func's own tying (`tie_weights=True`) restores a module registered
    twice to the swapped-in tensor, leaving the model's parameters views of the engine's.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        (model,) = models
        self.models = [model]
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]  # distinct
        own = dict(model.named_parameters())
        index = {id(own[n]): k for k, n in enumerate(self.names)}  # weight -> its place
        slots: dict[tuple[int, str], tuple[str, int]] = {}  # (module, attribute) -> name, weight
        for name, p in model.named_parameters(remove_duplicate=False):
            path, _, attr = name.rpartition(".")
            if id(p) in index:
                slots.setdefault((id(model.get_submodule(path)), attr), (name, index[id(p)]))
        self.slots = list(slots.values())  # (a name of the slot, its weight's place in names)

    def init(self) -> list[torch.Tensor]:
        params = dict(self.models[0].named_parameters())
        return [params[n].detach().unsqueeze(0) for n in self.names]  # each (1, ...)

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        trained = [next(params)[0] for _ in self.names]
        weights = {name: trained[k] for name, k in self.slots}
        args = (X[0],) if mask is None else (X[0], mask[0])  # (B, N, F), (B, N)
        p: torch.Tensor = functional_call(
            self.models[0], weights, args, tie_weights=False, strict=False
        )  # (B, *O)
        return (p[:, 0] if p.shape[1:] == (1,) else p).unsqueeze(0)  # (1, B) or (1, B, *O)

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        own = dict(self.models[0].named_parameters())
        for n in self.names:
            own[n].copy_(next(params)[0])


FAMILIES = (StackedDeepSet, StackedMLP)


def stack_key(model: nn.Module) -> Key:
    """Models with equal keys train as one stack; a key naming no family means alone."""
    p = next(model.parameters(), None)
    where = (None, None) if p is None else (p.dtype, p.device)
    if all(q.requires_grad for q in model.parameters()):
        for family in FAMILIES:
            key = family.key(model)
            if key is not None:
                return (family, *where, key)
    return (ModuleStack, id(model))


def twin(stack: Stack, models: Sequence[nn.Module]) -> Stack:
    """A stack of the same family over `models` (copies of its members, in its order)."""
    return type(stack)(models)  # type: ignore[call-arg]


def grouped(models: Sequence[nn.Module]) -> list[tuple[Callable[..., Stack], list[int]]]:
    """Which models train as one stack: each stack's family and its members' indices in
    `models` (DeepSet variants side by side, in runs), stacks in input order."""
    groups: dict[Key, list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault(stack_key(m), []).append(i)
    out: list[tuple[Callable[..., Stack], list[int]]] = []
    for key, index in groups.items():
        family = key[0]
        if family is StackedDeepSet:  # equal variants side by side: runs of slices
            index.sort(key=lambda i: StackedDeepSet.order(models[i]))  # type: ignore[arg-type]
        out.append((family, index))  # type: ignore[arg-type]
    return out


def stack_models(models: Sequence[nn.Module]) -> list[tuple[Stack, list[int]]]:
    """Group models into stacks: (stack, the index of each member in `models`), input order."""
    return [(family([models[i] for i in index]), index) for family, index in grouped(models)]
