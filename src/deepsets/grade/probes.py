"""The measurements made inside a submission's process: raw values, never a verdict.

Each probe takes the submission's namespace and returns plain values (lists of floats, shapes,
counts, class names) that `checks.py` judges in the grader's process. A probe that needs a
second student function uses the package's instead: `train` is measured on the package's
`DeepSet` with the package's `make_data` put in the submission's namespace, and the student's
`DeepSet` is trained by the package's `train`. So one fault costs the points of one part.

Shape letters: B sets, N objects per set (10, the exercise's), V weight variants.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

import deepsets

N_OBJECTS = 10
DATA_CALLS = 20  # make_data(100) calls: 2000 sets, about 8000 nonzero positions to count
DATA_SIZES = (2, 10) + (100,) * DATA_CALLS
PERMUTATIONS = 20
# perturbed copies of the student's DeepSet, beside its own weights: with 10, a correct phi's
# smallest output difference over 300 seeds came to 7e-5 (below the threshold, 1e-4); with 100
# to 3e-2 (benchmarks/grade_calibration.py)
VARIANTS = 100
WEIGHT_SCALE = 1.5  # the perturbed weights: every parameter drawn from N(0, 1.5^2)

Namespace = dict[str, Any]
Context = dict[str, Any]


def reseed(seed: int) -> None:
    """Seed every generator a submission may draw from (torch, numpy, random)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (students draw from numpy's global generator)
    random.seed(seed)


def student(namespace: Namespace, name: str) -> Any:
    """The submission's `name`, or a LookupError saying it is missing."""
    if name not in namespace:
        raise LookupError(f"the submission defines no {name}")
    return namespace[name]


def floats(value: Any) -> list[float]:
    """A tensor, array or list as a flat list of floats."""
    return torch.as_tensor(value).detach().to(torch.float64).reshape(-1).tolist()


def shape(value: Any) -> list[int] | None:
    """The shape of a tensor or array, None for anything else."""
    return [int(n) for n in value.shape] if hasattr(value, "shape") else None


def draws(namespace: Namespace, context: Context) -> list[dict[str, Any]]:
    """The student's make_data(N) for each N of DATA_SIZES (made once, shared by data.*)."""
    if "draws" not in context:
        make_data = student(namespace, "make_data")
        calls = []
        for N in DATA_SIZES:
            returned = make_data(N)
            if not (isinstance(returned, tuple | list) and len(returned) == 2):
                raise TypeError(f"make_data({N}) returned {type(returned).__name__}, not (X, y)")
            X, y = returned
            calls.append(
                {"N": N, "X_type": type(X).__name__, "y_type": type(y).__name__,
                 "X_shape": shape(X), "y_shape": shape(y), "X": floats(X), "y": floats(y)}
            )  # fmt: skip
        context["draws"] = calls
    return list(context["draws"])


def variants(namespace: Namespace, count: int = VARIANTS) -> list[nn.Module]:
    """The student's DeepSet() with its own weights, then `count` copies with perturbed ones."""
    model = student(namespace, "DeepSet")()
    if not isinstance(model, nn.Module):
        raise TypeError(f"DeepSet() is a {type(model).__name__}, not a torch.nn.Module")
    copies = [copy.deepcopy(model) for _ in range(count)]
    with torch.no_grad():
        for c in copies:
            for p in c.parameters():
                p.copy_(torch.randn_like(p) * WEIGHT_SCALE)
    return [m.eval() for m in [model, *copies]]


def outputs(model: nn.Module, X: torch.Tensor) -> list[float]:
    """The model's outputs on X (B, N, 1), flat."""
    with torch.no_grad():
        return floats(model(X))


def invariant(namespace: Namespace, context: Context) -> dict[str, Any]:
    """Outputs on 16 random sets, then on each of PERMUTATIONS orderings of their objects."""
    X = torch.rand(16, N_OBJECTS, 1)  # (B, N, 1): any values, not only the exercise's
    orders = [torch.randperm(N_OBJECTS) for _ in range(PERMUTATIONS)]
    return {
        "outputs": [[outputs(m, X[:, o]) for o in [torch.arange(N_OBJECTS), *orders]]
                    for m in variants(namespace, 2)]
    }  # fmt: skip


def sum_pooling(namespace: Namespace, context: Context) -> dict[str, Any]:
    """Outputs on 16 random sets and on each set joined with itself (2N objects)."""
    X = torch.rand(16, N_OBJECTS, 1)  # (B, N, 1)
    XX = torch.cat([X, X], dim=1)  # (B, 2N, 1): sum pooling doubles; mean and max do not move
    models = variants(namespace)
    return {"single": [outputs(m, X) for m in models], "doubled": [outputs(m, XX) for m in models]}


def phi_nonlinear(namespace: Namespace, context: Context) -> dict[str, Any]:
    """Outputs on 3 x 1/3 sets and on 5 x 1/5 sets (both sum to 1), for each weight variant."""
    X, y = deepsets.all_sets(N_OBJECTS)  # (372, N, 1), (372, 1)
    pick = torch.randperm(len(y))
    three = X[pick[y[pick, 0] == 0][:8]]  # (8, N, 1) sets of three 1/3s
    five = X[pick[y[pick, 0] == 1][:8]]  # (8, N, 1) sets of five 1/5s
    models = variants(namespace)
    return {"three": [outputs(m, three) for m in models],
            "five": [outputs(m, five) for m in models]}  # fmt: skip


def output(namespace: Namespace, context: Context) -> dict[str, Any]:
    """Output shapes and values for batches of 1 and 64 sets, for each weight variant."""
    shapes, values = [], []
    X, _ = deepsets.make_data(64)  # (64, N, 1)
    for m in variants(namespace):
        for B in (1, 64):
            with torch.no_grad():
                out = m(X[:B])
            shapes.append({"B": B, "shape": shape(out), "type": type(out).__name__})
            values += floats(out)
    return {"shapes": shapes, "values": values}


class AsColumn(nn.Module):
    """A model's outputs as (B, 1): a wrong output shape costs deepset.output, not this too."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(X)
        return out.reshape(len(X), 1)  # (B, 1)


def learns(namespace: Namespace, context: Context) -> dict[str, Any]:
    """The student's DeepSet trained by the package's train; its outputs on all 372 sets."""
    model = AsColumn(student(namespace, "DeepSet")())
    steps = context["steps"]
    seed = int(torch.randint(2**31, ()))
    deepsets.train(model, steps, seed=seed, progress=False)  # one thread: the harness set it
    X, _ = deepsets.all_sets(N_OBJECTS)  # the grader recomputes the labels itself
    return {"steps": steps, "outputs": outputs(model.eval(), X)}


def mlp(namespace: Namespace, context: Context) -> dict[str, Any]:
    """The submission's MLP: make_mlp() if defined, else its top-level nn.Sequential values."""
    found: list[tuple[str, Any]] = []
    if callable(namespace.get("make_mlp")):
        found.append(("make_mlp()", namespace["make_mlp"]()))
    found += [(n, v) for n, v in namespace.items() if isinstance(v, nn.Module)]
    X, _ = deepsets.make_data(8)  # (8, N, 1)
    seen = []
    for name, value in found:
        entry: dict[str, Any] = {"name": name, "type": type(value).__name__,
                                 "sequential": isinstance(value, nn.Sequential)}  # fmt: skip
        try:
            with torch.no_grad():
                entry["shape"] = shape(value(X))
        except Exception as e:  # a module that cannot take (B, N, 1): reported, not raised
            entry["error"] = repr(e)[:300]
        seen.append(entry)
    return {"candidates": seen}


def trained(namespace: Namespace, context: Context) -> dict[str, Any]:
    """train(model) on the package's DeepSet, with the package's make_data as `make_data`.

    Counted: the optimizer steps and their optimizer's class (a global step hook), the
    make_data calls and how many of their batches differ.
    """
    train = student(namespace, "train")
    model = deepsets.DeepSet()
    batches: list[str] = []
    steps: list[str] = []

    def make_data(*args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        X, y = deepsets.make_data(*args, **kwargs)
        batches.append(hashlib.sha1(X.numpy().tobytes()).hexdigest())
        return X, y

    before = [p.detach().clone() for p in model.parameters()]  # zip below: same length
    hook = register_optimizer_step_post_hook(
        lambda opt, args, kwargs: steps.append(type(opt).__name__)
    )
    own, namespace["make_data"] = namespace.get("make_data"), make_data
    try:
        returned = train(model)
    finally:
        hook.remove()
        namespace["make_data"] = own
    pair = isinstance(returned, tuple | list) and len(returned) == 2
    losses = returned[1] if pair else None
    return {
        "returned": type(returned).__name__,
        "length": len(returned) if isinstance(returned, tuple | list) else None,
        "model_returned": pair and returned[0] is model,
        "losses_type": type(losses).__name__,
        "losses": [float(v) for v in losses] if losses is not None else None,
        "optimizer_steps": len(steps),
        "optimizers": dict(Counter(steps)),
        "make_data_calls": len(batches),
        "distinct_batches": len(set(batches)),
        "changed": any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))  # noqa: B905,
    }


def architectures() -> dict[str, nn.Module]:
    """The networks count_params is asked about (the grader counts them itself too)."""
    torch.manual_seed(0)
    return {
        "Linear(3, 4)": nn.Linear(3, 4),
        "Linear(3, 4, bias=False)": nn.Linear(3, 4, bias=False),
        "MLP 10-20-20-1": nn.Sequential(
            nn.Flatten(), nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(),
            nn.Linear(20, 1), nn.Sigmoid(),
        ),
        "DeepSet (the package's)": deepsets.DeepSet(),
        "Conv1d(2, 3, 5)": nn.Conv1d(2, 3, 5),
    }  # fmt: skip


def count_params(namespace: Namespace, context: Context) -> dict[str, Any]:
    """The student's count_params on each of `architectures()`."""
    count = student(namespace, "count_params")
    returned = {}
    for name, model in architectures().items():
        value = count(model)
        returned[name] = int(value) if isinstance(value, int | np.integer) else repr(value)[:100]
    return {"returned": returned}


PROBES: dict[str, Callable[[Namespace, Context], dict[str, Any]]] = {
    "data": lambda ns, ctx: {"calls": draws(ns, ctx)},
    "deepset.invariant": invariant,
    "deepset.sum_pooling": sum_pooling,
    "deepset.phi_nonlinear": phi_nonlinear,
    "deepset.output": output,
    "mlp.sequential": mlp,
    "count_params.exact": count_params,
    "train": trained,
    "deepset.learns": learns,
}
