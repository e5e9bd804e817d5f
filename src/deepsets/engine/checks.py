"""The engine's checks of its arguments, before any training (models, set sizes, given sets and
their memory, executor, snapshots), on top of `deepsets.checks`. A failure names the argument.

Shape letters: K models, B sets, b sets a step, N objects, F features, *O one set's target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor

import torch
from torch import nn

from deepsets.checks import (
    ACTIVATION_FLOATS,
    check_all_placed,
    check_finite,
    check_memory,
    check_seed,
    is_int,
    positive_float,
    positive_int,
)
from deepsets.engine.losses import LOSSES
from deepsets.training import MASKED, check_model, check_set_size, check_takes_mask


def check_models(
    models: object, seeds: object, *, masked: bool = False, fresh: bool = True
) -> tuple[torch.device, torch.dtype]:
    """Raise a clear error for anything `train_many` cannot train, or for seeds that are not
    one generator or integer seed (or, if `fresh`, None) per model; returns their device, dtype."""
    if not isinstance(models, Sequence) or isinstance(models, nn.Module):
        raise TypeError(f"models must be a list of torch.nn.Module, got {models!r:.80}")
    if not models:
        raise ValueError("models must be a non-empty list of torch.nn.Module, got an empty list")
    places = set()  # (device, dtype) of each model
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be a torch.nn.Module, got {type(m).__name__}")
        places.add(check_model(m, f"models[{i}]"))
        if masked:
            check_takes_mask(m, MASKED)
    if len({id(m) for m in models}) != len(models):
        raise ValueError("models must be distinct objects (the same module appears twice)")
    check_unshared(models)
    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or len(seeds) != len(models):
        raise ValueError(f"seeds must be a list of one seed per model, got {seeds!r:.80}")
    for k, seed in enumerate(seeds):  # checked even where unused (train_on's full batch)
        if seed is not None or not fresh:
            check_seed(seed, f"seeds[{k}]")
    devices, dtypes = {d for d, _ in places}, {t for _, t in places}
    if len(devices) > 1:
        raise ValueError(f"all models must be on one device, got {sorted(map(str, devices))}")
    if len(dtypes) > 1:
        raise ValueError(f"all models must have one floating-point dtype, got {dtypes}")
    return places.pop()


def memory_span(p: torch.Tensor) -> tuple[int, int, int]:
    """(storage, first byte, one past the last byte) of p's elements; an empty or meta tensor
    is a span of its own."""
    where = p.untyped_storage().data_ptr()
    if p.numel() == 0 or where == 0:
        return -id(p), 0, 1
    extent = 1 + sum((n - 1) * abs(st) for n, st in zip(p.shape, p.stride(), strict=True))
    start = int(p.storage_offset()) * p.element_size()
    return where, start, start + int(extent) * p.element_size()


def check_unshared(models: Sequence[nn.Module]) -> None:
    """Refuse models that share a parameter (or overlapping memory), naming the first pair:
    each trains as its own copy and is written back. Tying within one model is fine."""
    spans = sorted(
        (*memory_span(p), i, k, name)
        for i, m in enumerate(models)
        for k, (name, p) in enumerate(m.named_parameters())
    )  # by storage, then first byte
    active: list[tuple[int, int, int, int, int, str]] = []  # spans of this storage not ended
    shared: list[tuple[tuple[int, int, str], ...]] = []  # (later, earlier) (model, index, name)
    for span in spans:
        where, start, _, i, k, name = span
        active = [a for a in active if a[0] == where and a[2] > start]
        shared += [
            tuple(sorted([(i, k, name), (j, kj, o)], reverse=True))
            for *_, j, kj, o in active
            if j != i
        ]
        active.append(span)
    if shared:
        (i, _, name), (j, _, other) = min(shared)
        first, second = f"models[{j}].{other}", f"models[{i}].{name}"
        raise ValueError(
            f"{first} and {second} share one parameter ({len(shared)} shared in all); models "
            "trained together must not share parameters (each would be trained as its own "
            "copy and written back over the other): give each model its own modules "
            "(copy.deepcopy), or train the shared module in one model"
        )


def check_set_sizes(
    n_objects: object, sizes: object, models: Sequence[nn.Module]
) -> list[tuple[int, tuple[int, int] | None, list[int]]]:
    """The K models by the sets they train on (`sizes`: None, one pair (lo, hi) for all, or
    one entry per model): (N, (lo, hi) or None, their indices) per distinct entry, in order."""
    K = len(models)
    if not isinstance(sizes, list | tuple) or not any(e is None or isinstance(e, list | tuple)
                                                       for e in sizes):  # fmt: skip
        groups = [(*check_set_size(n_objects, sizes), list(range(K)))]
    else:
        if len(sizes) != K:
            raise ValueError(
                f"sizes must be one pair (lo, hi) for every model, or one entry per model "
                f"({K}), got {len(sizes)} entries"
            )
        by_entry: dict[tuple[int, tuple[int, int] | None], list[int]] = {}
        for k, entry in enumerate(sizes):
            by_entry.setdefault(check_set_size(n_objects, entry, f"sizes[{k}]"), []).append(k)
        groups = [(N, pair, index) for (N, pair), index in by_entry.items()]
    for _, pair, index in groups:
        for i in index if pair is not None else ():
            check_takes_mask(models[i], MASKED)
    return groups


def check_given_sets(
    models: Sequence[nn.Module], sets: object, steps: object, lr: object, loss: object,
    batch_size: object,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:  # fmt: skip
    """`train_on`'s checks of its sets, steps, lr, loss and a step's memory; returns X, y, mask."""
    if not isinstance(sets, tuple | list):
        raise TypeError(f"sets must be a pair (X, y) or a triple (X, y, mask), got {sets!r:.80}")
    if len(sets) not in (2, 3):
        raise ValueError(f"sets must be a pair (X, y) or a triple (X, y, mask), got {len(sets)}")
    X, y, mask = (*sets, None)[:3]
    check_all_placed(X=X, y=y, mask=mask)
    positive_int(steps, "steps")
    positive_float(lr, "lr")
    check_loss(loss, y)
    check_training_sets(X, y, mask, len(models), batch_size)  # and their values finite
    check_step_memory(models, X, y, batch_size)  # type: ignore[arg-type]  # checked above
    return X, y, mask


def check_training_sets(X: object, y: object, mask: object, K: int, batch_size: object) -> None:
    """A clear ValueError for sets `TrainingSets` cannot take (shapes, a NaN or an infinity)."""
    if (
        not isinstance(X, torch.Tensor)
        or X.dim() not in (3, 4)
        or (X.dim() == 4 and X.shape[0] != K)
    ):
        got = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(
            f"X must be a tensor (K, B, N, F) with K = {K}, or (B, N, F) shared by the "
            f"models, got {got}"
        )
    lead = tuple(X.shape[:2]) if X.dim() == 4 else tuple(X.shape[:1])  # (K, B) or (B,)
    if lead[-1] < 1:
        raise ValueError(f"X must hold B >= 1 sets, got {tuple(X.shape)}")
    if (
        not isinstance(y, torch.Tensor)
        or tuple(y.shape[: len(lead)]) != lead
        or y.dim() <= len(lead)
    ):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"y must be a tensor {(*lead, 1)} (or {(*lead, '...')}), got {got}")
    if mask is not None and (
        not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != X.shape[:-1]
    ):
        raise ValueError(f"mask must be a boolean tensor {tuple(X.shape[:-1])} (.., B, N)")
    if batch_size is not None:
        positive_int(batch_size, "batch_size")
    check_finite(X, "X")
    check_finite(y, "y")


def check_loss(loss: object, y: object) -> None:
    """Raise a clear error for an unknown loss, or labels "bce" cannot take."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if loss == "bce" and isinstance(y, torch.Tensor) and not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold labels 0 or 1 only (loss='bce')")


def check_step_memory(
    models: Sequence[nn.Module], X: torch.Tensor, y: torch.Tensor, batch_size: int | None
) -> None:
    """Refuse, naming batch_size, a step of the K models on b sets of X (.., B, N, F) whose sets
    and activations (`object_units`, the widest model's) would not fit in memory."""
    b = X.shape[-3] if batch_size is None else batch_size
    N, K = X.shape[-2], len(models)
    target = math.prod(y.shape[X.dim() - 2 :])  # one set's target, (*O)
    row = N * (X.shape[-1] * X.element_size() + 1) + target * y.element_size()
    known: dict[tuple[object, ...], float] = {}  # an architecture's units, measured once
    for m in models:
        key = (type(m), *(tuple(p.shape) for p in m.parameters()))
        if key not in known:
            known[key] = object_units(m, X)
    need = K * b * (row + N * max(known.values()) * ACTIVATION_FLOATS * 4)  # float32
    check_memory(need, f"batch_size={b} for {K} model(s) on sets of {N} objects (train_on)")


def object_units(model: nn.Module, X: torch.Tensor) -> float:
    """Activation values per object of `model` on sets like X (.., B, N, F): its layers' widths
    summed, or for other weights than Linear (a convolution) its leaf modules' outputs on one
    set, measured with forward hooks (a failing forward is reported later, by its own check)."""
    weights = [p for p in model.parameters() if p.dim() >= 2]
    units = float(sum(p.shape[0] for p in weights))
    if all(p.dim() == 2 for p in weights):
        return units
    values: list[int] = []
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    hooks = [
        m.register_forward_hook(lambda _m, _a, out: values.append(out.numel())
                                if isinstance(out, torch.Tensor) else None)
        for m in leaves
    ]  # fmt: skip
    try:
        with torch.no_grad():
            model(X.detach().reshape(-1, *X.shape[-2:])[:1])  # (1, N, F): one set
    except Exception:  # noqa: BLE001  # not this check's to report
        return units
    finally:
        for h in hooks:
            h.remove()
    return max(units, sum(values) / X.shape[-2])


def check_losses_apply(
    outputs: Sequence[torch.Tensor], y: torch.Tensor, loss: str
) -> None:
    """A ValueError naming the model whose outputs (b, *O) the loss cannot take with targets
    y (b, ...), or whose output shape differs from the first model's."""
    for i, p in enumerate(outputs):
        if p.shape != outputs[0].shape:
            raise ValueError(
                f"models[{i}] outputs {tuple(p.shape)} but models[0] {tuple(outputs[0].shape)}: "
                "models trained together must give one output shape"
            )
        try:
            LOSSES[loss](p, y.to(p.dtype), reduction="none")
        except (RuntimeError, ValueError) as e:
            raise ValueError(
                f"models[{i}]'s outputs {tuple(p.shape)} do not fit loss={loss!r} with targets "
                f"{tuple(y.shape)}: {e}"
            ) from e


def check_executor(executor: object, device: torch.device) -> Executor | None:
    """The executor (None: none), if it is a `concurrent.futures.Executor` and the models are
    on a CPU."""
    if executor is None:
        return None
    if not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor (e.g. ProcessPoolExecutor or a "
            f"Dask client's get_executor()), got {type(executor).__name__}"
        )
    if device.type != "cpu":
        raise ValueError(f"an executor trains models on a CPU; the models are on {device}")
    return executor


def check_snapshots(snapshots: object, steps: int) -> list[int]:
    """The snapshot steps asked for, each in 1..steps; [] for None."""
    if snapshots is None:
        return []
    if not isinstance(snapshots, dict):
        raise TypeError(f"snapshots must be a dict whose keys are steps, got {snapshots!r:.80}")
    for s in snapshots:
        if not is_int(s) or not 1 <= s <= steps:
            raise ValueError(f"snapshots' keys must be steps from 1 to steps={steps}, got {s!r}")
    return sorted(snapshots)
