"""Training as in the exercise: Adam on binary cross-entropy, a fresh batch every step.

`train(model)` and `train_many(models)` are one engine (`deepsets.engine`): models are checked
first, grouped into stacks of one architecture, and trained together by the one loop.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deepsets.checks import (
    ACTIVATION_FLOATS,
    check_all_placed,
    check_finite,
    check_finite_parameters,
    check_memory,
    check_placed,
    check_seed,
    check_sizes,
    check_training_args,
    is_int,
    positive_float,
    positive_int,
    positive_ints,
)
from deepsets.data import CHUNK, MIN_OBJECTS, check_data_memory, check_n_objects
from deepsets.engine.feeds import Feed, objects, train_part
from deepsets.engine.forked import Copies, forkable
from deepsets.engine.losses import LOSSES
from deepsets.engine.parts import partition, run_parts, share_out, worth_forking
from deepsets.engine.remote import current_executor, run_groups
from deepsets.engine.settings import TORCH_THREADS, EngineSettings, resolve_workers
from deepsets.engine.sources import Streams, TrainingSets, check_training_sets
from deepsets.engine.threads import torch_threads as torch_threads

DIVERGED = 1.0  # a final mean loss above this (ln 2 = 0.69 is chance) gets a warning
MASKED = "training on sets of varying size (sizes= or mask=)"  # what needs a model taking a mask


def count_params(model: nn.Module) -> int:
    """The number of trainable parameters of `model`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params expects a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (cpu for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def run_model(
    model: nn.Module, X: torch.Tensor, *mask: torch.Tensor, target: tuple[int, ...] = (1,)
) -> torch.Tensor:
    """model(X, *mask) -> (B, *target), or a ValueError saying which input the model could not
    take or which shape it gave instead."""
    try:
        p = model(X, *mask)
    except RuntimeError as e:  # e.g. an MLP built for another set size: a matmul shape error
        raise ValueError(
            f"{type(model).__name__} could not take sets of shape {tuple(X.shape)} (B, N, F): "
            f"{e}. An MLP from make_mlp takes only the set size it was built for (n_objects)."
        ) from e
    if not isinstance(p, torch.Tensor) or p.shape != (X.shape[0], *target):
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(
            f"the model must map (B, N, F) to (B, {', '.join(map(str, target))}), got {got}"
        )
    return p


def check_threads(threads: object) -> int:
    """torch's CPU threads for training: TORCH_THREADS for None, else a positive integer."""
    return TORCH_THREADS if threads is None else positive_int(threads, "threads")


def show_progress(progress: object) -> bool:
    """A progress bar only when asked, or by default when stderr is a terminal."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    return sys.stderr.isatty() if progress is None else progress


def train(
    model: nn.Module,
    steps: int = 4000,
    *,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: torch.Generator | int | None = None,
    n_objects: int | None = None,
    sizes: tuple[int, int] | None = None,
    progress: bool | None = None,
    threads: int | None = None,
    workers: int | None = None,
) -> tuple[nn.Module, np.ndarray]:
    """Train `model` in place with Adam on binary cross-entropy, one fresh batch per step.

    Arguments:
        model: a network mapping X (B, N, 1) to probabilities (B, 1), e.g. DeepSet or make_mlp().
        steps: optimisation steps (the exercise uses 4000).
        batch_size: sets per step, a positive even integer (balanced batches).
        lr: Adam's learning rate.
        seed: seed (or generator) of the training data; None draws fresh data.
        n_objects: objects per set in the training data; None: 10 (the exercise's).
        sizes: (lo, hi) to train on sets of varying size (`make_padded_data`), passed to the
            model with their mask as `model(X, mask)`; the model must take a mask (DeepSet).
            Not with n_objects: the two together are refused (sizes sets the set size).
        progress: show a tqdm bar; None shows one only on a terminal.
        threads: torch's CPU threads while it trains, in every worker; None: TORCH_THREADS
            (1). The caller's setting is restored afterwards.
        workers: processes (or threads) that share out the stacks on a CPU; None: the cores
            this process may use, divided by `threads` (`DEEPSETS_WORKERS` overrides that,
            as a study's `--workers` does); on a GPU always one. It changes the time, never
            a number.

    Returns:
        The trained model (in eval mode) and the loss of every step, an array (steps,).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"train expects a torch.nn.Module, got {type(model).__name__}")
    check_placed(model, "model")
    _, losses = train_many(
        [model], steps, seeds=[seed], batch_size=batch_size, lr=lr, n_objects=n_objects,
        sizes=sizes, progress=progress, threads=threads, workers=workers,
    )  # fmt: skip
    return model, losses[0]


def train_many(
    models: Sequence[nn.Module],
    steps: int = 4000,
    *,
    seeds: Sequence[torch.Generator | int | None],
    batch_size: int = 100,
    lr: float = 1e-3,
    n_objects: int | None = None,
    sizes: tuple[int, int] | Sequence[tuple[int, int] | None] | None = None,
    progress: bool | None = None,
    snapshots: dict[int, list[nn.Module]] | None = None,
    executor: Executor | None = None,
    threads: int | None = None,
    workers: int | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train every model as `train(model_k, steps, seed=seeds[k], ...)` would, all at once.

    Models of one architecture (DeepSets of one configuration, MLPs of one shape) are stacked
    into one batched network (`deepsets.engine.families`); any other module trains through its
    own forward in the same loop. The models share one device and one dtype (float64 models
    train on float64 data; the data's values are exact in both). Member k sees exactly the
    data `train(model_k, seed=seeds[k], sizes=sizes[k])` sees (integer seeds). Stacked and
    plain computations round differently in the last bit: in float32 they agree to ~1e-6
    over the first hundred steps, then a DeepSet's escape from its ln 2 plateau amplifies
    rounding, so long runs agree in distribution, not digit by digit (in float64, to 1e-9 over
    1000 steps). Torch runs on `threads` CPU threads during the call (default TORCH_THREADS, 1).

    Arguments:
        models: K networks mapping X (B, N, 1) to probabilities (B, 1), trained in place;
            distinct objects that share no parameter (a ValueError names a shared one).
        steps, batch_size, lr, n_objects, progress, threads, workers: as in `train`.
        sizes: as in `train` for every model, or one entry per model (None: sets of
            n_objects; a pair (lo, hi)): the models of each entry form their stacks apart, as
            if trained alone, and the stacks of all share out the workers together.
        seeds: K seeds (or generators) of the models' data streams; equal integer seeds
            share one stream, None draws a fresh one.
        snapshots: a dict whose keys are steps (1..steps); each value is set to copies of the
            K models (in eval mode) as they were after that many steps, from the same run.
        executor: train each stack as one task of this `concurrent.futures.Executor` (a
            process pool, a Dask client's executor: `deepsets.cluster`), with the same numbers
            on a CPU; default: `deepsets.cluster.current_executor()`, None = in this process.
            Every task gets copies of the generator seeds (under any executor, a thread pool
            too, the caller's are not advanced); when no task finishes for an hour
            (`engine.remote.STALL_SECONDS`) the run stops with `engine.remote.ExecutorFailed`.

    Returns:
        The same K model objects, trained and in eval mode, in input order, and their
        losses (K, steps).
    """
    device, dtype = check_models(models, seeds)
    groups = check_set_sizes(n_objects, sizes, models)  # [(N, (lo, hi) or None, index)]
    check_training_args(steps, batch_size, lr)
    n_threads = check_threads(threads)
    settings = EngineSettings(steps, batch_size, lr, threads=n_threads,
                              workers=resolve_workers(workers, n_threads),
                              progress=show_progress(progress))  # fmt: skip
    feeds = [stream_feed(index, seeds, N, pair, batch_size, steps, device, dtype)
             for N, pair, index in groups]  # fmt: skip
    return run_engine(models, feeds, settings, snapshots, executor)


def stream_feed(
    index: list[int], seeds: Sequence[torch.Generator | int | None], N: int,
    sizes: tuple[int, int] | None, batch_size: int, steps: int, device: torch.device,
    dtype: torch.dtype,
) -> Feed:  # fmt: skip
    """The models `index` and their data streams (`Streams`) of sets of N objects (`sizes`:
    of lo..hi, padded to N = hi, with a mask), after a check of a chunk's memory."""
    data = Streams([seeds[i] for i in index], batch_size, N, sizes, device, dtype)  # checks them
    what = f"batch_size={batch_size} for {data.S} data stream(s)"
    check_data_memory(min(steps, CHUNK) * batch_size * data.S, N, what)  # a chunk of every stream
    X = torch.full((2, N, 1), 0.2, device=device, dtype=dtype)  # (B, N, F): a sample input
    mask = None if sizes is None else torch.ones(2, N, dtype=torch.bool, device=device)
    return Feed(index, data, X, mask)


def check_set_sizes(
    n_objects: object, sizes: object, models: Sequence[nn.Module]
) -> list[tuple[int, tuple[int, int] | None, list[int]]]:
    """The K models by the sets they train on: (N, (lo, hi) or None, their indices) for each
    distinct entry, in order of first appearance; those on sets of varying size must take a
    mask. `sizes` is None or one pair (lo, hi) for every model, or one entry (None or a pair)
    per model; a None entry trains on sets of n_objects."""
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


def check_set_size(
    n_objects: object, sizes: object, name: str = "sizes"
) -> tuple[int, tuple[int, int] | None]:
    """The padded set size N and the checked sizes (lo, hi) or None: n_objects (default 10)
    or sizes (the argument `name`), never both (sizes would silently override n_objects)."""
    if sizes is None:
        return check_n_objects(10 if n_objects is None else n_objects), None
    if n_objects is not None:
        raise ValueError(
            f"give n_objects or sizes, not both: {name}={sizes!r} sets the set sizes, so "
            f"n_objects={n_objects!r} would be ignored"
        )
    lo, hi = check_sizes(sizes, name, least=MIN_OBJECTS)
    return hi, (lo, hi)


def train_on(
    models: Sequence[nn.Module],
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    *,
    mask: torch.Tensor | None = None,
    lr: float = 1e-3,
    loss: str = "bce",
    batch_size: int | None = None,
    seeds: Sequence[torch.Generator | int] | None = None,
    progress: bool | None = None,
    executor: Executor | None = None,
    threads: int | None = None,
    output: tuple[int, ...] | None = None,
    workers: int | None = None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Train model k on its own given sets X[k], y[k], or all models on one shared X, y.

    The engine of `train_many` on given training sets instead of the exercise's stream: for
    experiments with few examples (sample efficiency) and for other tasks (`deepsets.tasks`).

    Arguments:
        models: K networks mapping X (b, N, F) [and mask (b, N)] to outputs (b, *O), trained
            in place; they must share no parameter (as in `train_many`).
        X: (K, B, N, F) sets, one training set per model, or (B, N, F) shared by all K (not
            copied). Float sets take the models' dtype; integer ones (tokens) stay as they are.
            Finite values only; X and y may require grad: they are read detached, as values.
        y: targets (K, B, *O) or (B, *O), e.g. (B, 1): labels in {0, 1} for loss="bce".
        steps: Adam steps.
        mask: (K, B, N) or (B, N) booleans for sets of varying size (models must take a mask).
        lr, progress, threads, workers: as in `train`.
        loss: "bce" (outputs are probabilities), "mse" or "mae" (outputs are real numbers).
        batch_size: None trains on all B sets at every step (full batch); b draws b of them at
            random (with replacement) every step, model k with its own generator seeds[k].
        seeds: K seeds (or generators) of those draws; default 0, 1, ..., K - 1. Checked
            even when full batch draws nothing.
        executor: as in `train_many`.
        output: the shape of one set's output when it is not y's, *O (e.g. (K, 4) mixtures
            for loss="mixture_nll", whose targets are the sets' points (N, 3)).

    Returns:
        The same K models, trained and in eval mode, and their losses (K, steps).
    """
    K = len(models) if isinstance(models, Sequence) else 0
    draws = list(range(K)) if seeds is None else seeds
    device, dtype = check_models(models, draws, masked=mask is not None, fresh=False)
    check_given_sets(models, X, y, mask, steps, lr, loss, batch_size)
    n_threads = check_threads(threads)
    X, y, mask = as_rows(X, y, mask, device)
    data = TrainingSets(X, y, mask, K, batch_size, draws, dtype)
    sample = None if mask is None else mask[0, :2]
    target = check_output(output, tuple(y.shape[2:]), loss)
    settings = EngineSettings(
        steps, X.shape[1] if batch_size is None else batch_size, lr, loss, target,
        threads=n_threads, workers=resolve_workers(workers, n_threads),
        progress=show_progress(progress),
    )  # fmt: skip
    feed = Feed(list(range(K)), data, data.X[0, :2], sample)
    return run_engine(models, [feed], settings, None, executor)


def check_given_sets(
    models: Sequence[nn.Module], X: object, y: object, mask: object, steps: object, lr: object,
    loss: object, batch_size: object,
) -> None:  # fmt: skip
    """`train_on`'s checks of its data and schedule, in order, before any work: where the
    tensors are, steps, lr, the loss for y, the sets' shapes and values, a step's memory."""
    check_all_placed(X=X, y=y, mask=mask)
    positive_int(steps, "steps")
    positive_float(lr, "lr")
    check_loss(loss, y)
    check_training_sets(X, y, mask, len(models), batch_size)  # and their values finite
    check_step_memory(models, X, y, batch_size)  # type: ignore[arg-type]  # checked above


def check_output(output: object, per_set: tuple[int, ...], loss: str) -> tuple[int, ...]:
    """One set's output shape: y's `per_set` (*O), or `output`, which differs from it only for
    "mixture_nll" (its targets are a set's points, not outputs to compare with)."""
    if output is None:
        return per_set
    shape = positive_ints(output, "output")
    if loss != "mixture_nll" and shape != per_set:
        raise ValueError(
            f"output={output!r} must be y's shape per set, {per_set}, for loss={loss!r} (the "
            "outputs are compared with y); a different output is for loss='mixture_nll'"
        )
    return shape


def check_step_memory(
    models: Sequence[nn.Module], X: torch.Tensor, y: torch.Tensor, batch_size: int | None
) -> None:
    """Refuse, naming batch_size, a training step of the K models on b sets of X (.., B, N, F)
    whose drawn sets and activations would not fit in memory: b sets per model, each object
    through every layer's units (`object_units`, the widest model's)."""
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
    """Activation values per object of a step of `model` on sets like X (.., B, N, F): its
    layers' output widths summed, for Linear layers; for a model with other weights (a
    convolution makes channels x pixels values per object) every leaf module's outputs on one
    set of X, measured with forward hooks (the formula where that forward fails: the check of
    the outputs names the failure later)."""
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


def as_rows(
    X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """X, y, mask with a leading row axis (one row when shared by the K models: never
    copied), on `device`, detached: the data are read, never differentiated."""
    X, y = X.detach(), y.detach()
    if X.dim() == 3:  # shared by the K models: one row
        X, y = X.unsqueeze(0), y.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    return X.to(device), y.to(device), None if mask is None else mask.to(device)


def check_loss(loss: object, y: object) -> None:
    """Raise a clear error for an unknown loss, or labels "bce" cannot take."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if loss == "bce" and isinstance(y, torch.Tensor) and not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold labels 0 or 1 only (loss='bce')")


def run_engine(
    models: Sequence[nn.Module],
    feeds: Sequence[Feed],
    s: EngineSettings,
    snapshots: dict[int, list[nn.Module]] | None,
    executor: Executor | None,
) -> tuple[list[nn.Module], np.ndarray]:
    """Check every model on its feed's sample input X (B, N, F) (outputs (B, *s.target)), then
    train them all, each on its feed's data, as `s` says: the stacks of every feed shared out
    over the workers together (engine/feeds.py), or each stack a task of `executor` (default:
    `current_executor()`)."""
    device = feeds[0].X.device
    executor = check_executor(current_executor() if executor is None else executor, device)
    s = replace(s, snapshots=tuple(check_snapshots(snapshots, s.steps)))
    check_memory(s.steps * len(models) * 16, f"steps={s.steps} for {len(models)} model(s)")
    for f in feeds:
        check_outputs([models[i] for i in f.index], f.X, f.mask, s.loss, s.target)
    for m in models:
        m.train()
    workers = s.workers if device.type == "cpu" else 1  # on a GPU one thread launches all
    if executor is not None:
        losses, copies = run_remote(executor, models, feeds, s, workers)
    else:
        parts = share_out(models, s.batch_size, [(f.index, f.N) for f in feeds], workers)
        fork = forkable(device, [seed for f in feeds for seed in f.data.seeds], s.threads)
        N = objects(feeds, len(models))
        fork = fork and worth_forking(parts, models, s.batch_size, N, s.steps)
        train = functools.partial(train_part, feeds=feeds, s=s)
        with torch_threads(s.threads):
            losses, copies = run_parts(parts, train, models, s.steps, fork)
    for step in s.snapshots:
        snapshots[step] = [copies[step][i] for i in range(len(models))]  # type: ignore[index]
    for m in models:
        m.eval()
    if s.loss == "bce":  # chance is ln 2 only for balanced labels
        warn_if_diverged(losses, s.lr)
    return list(models), losses


def run_remote(
    executor: Executor, models: Sequence[nn.Module], feeds: Sequence[Feed], s: EngineSettings,
    workers: int,
) -> tuple[np.ndarray, Copies]:  # fmt: skip
    """Every stack of every feed a task of `executor` (`engine.remote.run_groups`), feed by
    feed; returns the losses (K, steps) and the snapshot copies by model index."""
    losses = np.empty((len(models), s.steps))
    copies: Copies = {step: {} for step in s.snapshots}
    for f in feeds:
        own = [models[i] for i in f.index]
        parts = partition(own, s.batch_size, f.N, workers)
        kept: Copies = {step: {} for step in s.snapshots}
        losses[f.index] = run_groups(executor, own, parts, f.data, s, kept)
        for step in s.snapshots:
            copies[step].update({f.index[k]: m for k, m in kept[step].items()})
    return losses, copies


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


def check_models(
    models: object, seeds: object, *, masked: bool = False, fresh: bool = True
) -> tuple[torch.device, torch.dtype]:
    """Raise a clear error for anything `train_many` cannot train, or for seeds that are not
    one generator or integer seed (or, if `fresh`, None) per model; returns their device, dtype."""
    if not isinstance(models, Sequence) or isinstance(models, nn.Module):
        raise TypeError(f"models must be a list of torch.nn.Module, got {models!r:.80}")
    if not models:
        raise ValueError("models must be a non-empty list of torch.nn.Module, got an empty list")
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be a torch.nn.Module, got {type(m).__name__}")
        check_placed(m, f"models[{i}]")
        if not any(p.requires_grad for p in m.parameters()):
            raise ValueError(f"models[{i}] has no trainable parameters")
        check_finite_parameters(m, f"models[{i}]")
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
    devices = {p.device for m in models for p in m.parameters()}
    if len(devices) > 1:
        raise ValueError(f"all models must be on one device, got {sorted(map(str, devices))}")
    dtypes = {p.dtype for m in models for p in m.parameters()}
    if len(dtypes) > 1 or not next(iter(dtypes)).is_floating_point:
        raise ValueError(f"all models must have one floating-point dtype, got {dtypes}")
    return devices.pop(), dtypes.pop()


def check_takes_mask(model: nn.Module, what: str) -> None:
    """A TypeError if `model`'s forward takes no mask, which `what` needs."""
    if "mask" not in inspect.signature(model.forward).parameters:
        raise TypeError(
            f"{what} needs a model whose forward takes a mask (like DeepSet); "
            f"{type(model).__name__} does not"
        )


def memory_span(p: torch.Tensor) -> tuple[int, int, int]:
    """(storage, first byte, one past the last byte) of the memory p's elements lie in; an
    empty or meta tensor (no memory) is a span of its own, keyed by its identity."""
    where = p.untyped_storage().data_ptr()
    if p.numel() == 0 or where == 0:
        return -id(p), 0, 1
    extent = 1 + sum((n - 1) * abs(st) for n, st in zip(p.shape, p.stride(), strict=True))
    start = int(p.storage_offset()) * p.element_size()
    return where, start, start + int(extent) * p.element_size()


def check_unshared(models: Sequence[nn.Module]) -> None:
    """Refuse models that share a parameter (one module or tensor in two models, or two
    parameters on overlapping memory): each model trains as its own copy and is written back,
    so a shared one would end as the last model's, silently. Tying within one model is fine.
    The error names the first shared pair in the models' order."""
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


@torch.no_grad()
def predict(
    model: nn.Module,
    X: torch.Tensor,
    mask: torch.Tensor | None = None,
    target: tuple[int, ...] = (1,),
) -> torch.Tensor:
    """model(X[, mask]) -> (B, *target) in eval mode and without gradients; the mode is
    restored. Float X takes the model's dtype (as in `train_on`); integer X (tokens) stays."""
    mode = model.training
    model.eval()
    p = next(model.parameters(), None)
    if p is not None and p.is_floating_point() and X.is_floating_point():
        X = X.to(p.dtype)
    try:
        return run_model(model, X, *(() if mask is None else (mask,)), target=target)
    finally:
        model.train(mode)


@torch.no_grad()
def check_outputs(
    models: Sequence[nn.Module],
    X: torch.Tensor,
    mask: torch.Tensor | None,
    loss: str = "bce",
    target: tuple[int, ...] = (1,),
) -> None:
    """Run every model once on X (B, N, F), in eval mode, before any training starts: its
    outputs must have the target's shape (B, *target), and be probabilities for "bce"."""
    for i, m in enumerate(models):
        p = predict(m, X, mask, target)  # (B, *target)
        dtype = next(m.parameters()).dtype
        if p.dtype != dtype:  # the loss and its gradient are computed in the models' dtype
            raise TypeError(
                f"models[{i}] returns outputs of dtype {p.dtype} but its parameters are "
                f"{dtype}: its forward must return its parameters' dtype"
            )
        if loss == "bce":
            check_probabilities(p, f"models[{i}]")


def check_probabilities(p: torch.Tensor, what: str) -> None:
    """A ValueError if the outputs p of `what` are not probabilities in [0, 1]."""
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError(
            f"{what} must output probabilities in [0, 1] (end with a sigmoid, not logits), "
            f"got {p.flatten()[:8].tolist()}"
        )


def warn_if_diverged(losses: np.ndarray, lr: float) -> None:
    """Warn when a model ended worse than chance: a loss above DIVERGED hints at a bad lr."""
    final = losses[:, -max(1, losses.shape[1] // 10) :].mean(axis=1)  # (K,)
    bad = np.flatnonzero(~(final <= DIVERGED))
    if bad.size:
        warnings.warn(
            f"model(s) {bad.tolist()} ended with a mean loss of {final[bad].tolist()}, worse "
            f"than always answering 1/2 (ln 2 = {math.log(2):.3f}); lr={lr} may be too large",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )


def user_stacklevel() -> int:
    """The `stacklevel` of the caller's first frame outside this package (for warnings)."""
    frame, level = inspect.currentframe(), 0
    while frame is not None and frame.f_globals.get("__name__", "").startswith("deepsets."):
        frame, level = frame.f_back, level + 1
    return level


@torch.no_grad()
def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
) -> dict[str, float]:
    """Binary cross-entropy and accuracy (threshold 0.5) of `model` on X (B, N, F), y (B, 1).

    Labels may be floats, integers or booleans (0 or 1); float X takes the model's dtype; a
    model that outputs anything but probabilities in [0, 1], or takes no mask when given one,
    is refused. X may require grad: nothing is differentiated."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(y, torch.Tensor) or not isinstance(X, torch.Tensor):
        raise TypeError("X and y must be torch tensors of shapes (B, N, F) and (B, 1)")
    check_all_placed(model=model, X=X, y=y, mask=mask)
    if X.dim() < 1 or X.shape[0] == 0 or y.shape != (X.shape[0], 1):
        raise ValueError(
            f"X (B, N, F) and y (B, 1) must hold B >= 1 sets each, got {tuple(X.shape)} and "
            f"{tuple(y.shape)}"
        )
    check_finite(X, "X")
    check_finite_parameters(model, "model")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("y must hold labels 0 or 1 only")
    if mask is not None:
        check_takes_mask(model, "evaluate with a mask")
    p = predict(model, X, mask)  # (B, 1)
    if not p.is_floating_point():
        raise TypeError(f"the model must output floating-point probabilities, got {p.dtype}")
    check_probabilities(p, "the model")
    y = y.to(p.dtype)  # int, bool or float labels alike
    loss = F.binary_cross_entropy(p, y).item()
    acc = ((p > 0.5).to(p.dtype) == y).to(p.dtype).mean().item()
    return {"loss": loss, "accuracy": acc}
