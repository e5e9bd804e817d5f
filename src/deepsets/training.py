"""Training as in the exercise: Adam on binary cross-entropy, a fresh batch every step.

Shape letters: T steps in a chunk, B sets, N objects, F = 1 feature.

`train(model)` is the loop a student writes: data from `make_data`'s stream, forward, BCE,
`backward()`, Adam; it is the reference the stacked engine (`deepsets.engine.train`) is tested
against. Here too: `count_params`, `evaluate`, and the checks every training call shares.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import math
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm as plain_tqdm
from tqdm.auto import tqdm

from deepsets.checks import (
    as_generator,
    check_all_placed,
    check_finite,
    check_finite_parameters,
    check_memory,
    check_placed,
    check_sizes,
    check_training_args,
)
from deepsets.data import MIN_OBJECTS, check_n_objects, chunks

DIVERGED = 1.0  # a final mean loss above this (ln 2 = 0.69 is chance) gets a warning
RESTORED = "model was restored to its weights before training"
FUSED = True  # Adam as torch's fused kernel, here and in the engine (benchmarks/README.md)
MASKED = "training on sets of varying size (sizes= or mask=)"  # what needs a model taking a mask
PLAIN_EVERY = 10.0  # seconds between two progress lines where stderr is not a terminal
PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit}, {elapsed} elapsed, about {remaining} left"
_BY_DEFAULT = [0]  # blocks of `progress_by_default` open, in any thread (a count: runs overlap)
_COUNTING = threading.Lock()


def count_params(model: nn.Module) -> int:
    """The number of trainable parameters of `model`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params expects a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
) -> tuple[nn.Module, np.ndarray]:
    """Train `model` in place with Adam on binary cross-entropy, one fresh batch per step.

    Arguments:
        model: a network mapping X (B, N, 1) to probabilities (B, 1), e.g. DeepSet or make_mlp().
        steps: optimisation steps (the exercise uses 4000).
        batch_size: sets per step, a positive even integer (balanced batches).
        lr: Adam's learning rate.
        seed: seed (or generator) of the training data; None draws fresh data.
        n_objects: objects per set in the training data; None: 10 (the exercise's).
        sizes: (lo, hi): padded sets of varying size, as `model(X, mask)`; not with n_objects.
        progress: show progress (a bar; off a terminal, a line every 10 s); None: on a terminal.

    Returns:
        The trained model (in eval mode) and the loss of every step, an array (steps,).
    """
    device, dtype, N, pair = check_train(model, steps, batch_size, lr, n_objects, sizes)
    show = show_progress(progress)
    g = as_generator(seed, device, "seed")
    data = chunks(steps, batch_size, n_objects=N, sizes=pair, generator=g, device=device)
    check_outputs([model], *sample(N, pair, device, dtype), names=["model"])
    before = copy.deepcopy(model.state_dict())  # restored if the run fails or is interrupted
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=FUSED or None)
    losses: list[torch.Tensor] = []  # one per step, fetched once at the end
    model.train()
    try:
        with progress_bar(steps, "train", show) as bar:
            for X, y, *mask in data:
                for t in range(X.shape[0]):  # X (T, B, N, 1), y (T, B, 1), mask (T, B, N)
                    p = model(X[t].to(dtype), *(m[t] for m in mask))  # (B, 1): float64 too
                    try:
                        loss = F.binary_cross_entropy(p, y[t].to(dtype))
                    except RuntimeError:  # torch's word for NaN outputs: say whose, and when
                        check_step(p, "model", len(losses) + 1, steps, lr, RESTORED)
                        raise
                    opt.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    opt.step()
                    losses.append(loss.detach())
                bar.update(X.shape[0])
    except BaseException:
        model.load_state_dict(before)
        raise
    model.eval()
    history = torch.stack(losses).cpu().double().numpy()  # (steps,)
    warn_if_diverged(history[None], lr)
    return model, history


def check_train(
    model: nn.Module,
    steps: int,
    batch_size: int,
    lr: float,
    n_objects: int | None,
    sizes: tuple[int, int] | None,
) -> tuple[torch.device, torch.dtype, int, tuple[int, int] | None]:
    """`train`'s arguments checked before any work: the model's device and dtype, the padded
    set size N, and the sizes (lo, hi) or None."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"train expects a torch.nn.Module, got {type(model).__name__}")
    device, dtype = check_model(model, "model")
    check_training_args(steps, batch_size, lr)
    check_memory(steps * 16, f"steps={steps} (the loss of every step)")
    N, pair = check_set_size(n_objects, sizes)
    if pair is not None:
        check_takes_mask(model, MASKED)
    return device, dtype, N, pair


def check_model(model: nn.Module, name: str) -> tuple[torch.device, torch.dtype]:
    """A clear error for a module nothing can train (no trainable or a non-finite parameter,
    two devices or dtypes); returns its device and dtype."""
    check_placed(model, name)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"{name} has no trainable parameters")
    check_finite_parameters(model, name)
    devices = {p.device for p in model.parameters()}
    dtypes = {p.dtype for p in model.parameters()}
    if len(devices) > 1:
        on = sorted(map(str, devices))
        raise ValueError(f"{name}'s parameters must be on one device, got {on}")
    if len(dtypes) > 1 or not next(iter(dtypes)).is_floating_point:
        raise ValueError(f"{name}'s parameters must have one floating-point dtype, got {dtypes}")
    return devices.pop(), dtypes.pop()


def check_set_size(
    n_objects: object, sizes: object, name: str = "sizes"
) -> tuple[int, tuple[int, int] | None]:
    """The padded set size N and the checked sizes (lo, hi) or None: from n_objects (default
    10) or sizes, never both (sizes would silently override n_objects)."""
    if sizes is None:
        return check_n_objects(10 if n_objects is None else n_objects), None
    if n_objects is not None:
        raise ValueError(
            f"give n_objects or sizes, not both: {name}={sizes!r} sets the set sizes, so "
            f"n_objects={n_objects!r} would be ignored"
        )
    lo, hi = check_sizes(sizes, name, least=MIN_OBJECTS)
    return hi, (lo, hi)


def sample(
    N: int, sizes: tuple[int, int] | None, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A sample input X (2, N, 1) and its mask (2, N) or None, for the check of the outputs."""
    X = torch.full((2, N, 1), 0.2, device=device, dtype=dtype)  # (B, N, F)
    return X, None if sizes is None else torch.ones(2, N, dtype=torch.bool, device=device)


def show_progress(progress: object) -> bool:
    """Progress only when asked, or by default on a terminal (anywhere, under the CLI)."""
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    return (sys.stderr.isatty() or _BY_DEFAULT[0] > 0) if progress is None else progress


@contextlib.contextmanager
def progress_by_default() -> Iterator[None]:
    """In the block, progress=None shows progress wherever stderr goes (the CLI's runs)."""
    with _COUNTING:
        _BY_DEFAULT[0] += 1
    try:
        yield
    finally:
        with _COUNTING:
            _BY_DEFAULT[0] -= 1


class Lines(io.TextIOBase):
    """stderr as tqdm sees it off a terminal: each refresh ('\\r' + status) one whole line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, s: str) -> int:
        if text := s.replace("\r", "").strip():
            self.out.write(text + "\n")
            self.out.flush()
        return len(s)


def progress_bar(total: int, desc: str, show: bool, unit: str = "steps") -> Any:
    """A tqdm counter to `total` when `show`: a bar on a terminal; where stderr is not one (CI,
    a log file, `| tee`), a plain line at most every PLAIN_EVERY s, the first after as long."""
    if show and not sys.stderr.isatty():
        return plain_tqdm(total=total, desc=desc, unit=unit, file=Lines(sys.stderr),
                          mininterval=PLAIN_EVERY, maxinterval=PLAIN_EVERY, delay=PLAIN_EVERY,
                          bar_format=PLAIN_FORMAT, leave=False)  # fmt: skip
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


def check_takes_mask(model: nn.Module, what: str) -> None:
    """A TypeError if `model`'s forward takes no mask, which `what` needs."""
    if "mask" not in inspect.signature(model.forward).parameters:
        raise TypeError(
            f"{what} needs a model whose forward takes a mask (like DeepSet); "
            f"{type(model).__name__} does not"
        )


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (cpu for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def run_model(
    model: nn.Module, X: torch.Tensor, *mask: torch.Tensor, target: tuple[int, ...] | None = (1,)
) -> torch.Tensor:
    """model(X, *mask) -> (B, *target) (target None: any), or a ValueError saying which input
    the model could not take or which shape it gave."""
    flat = isinstance(model, nn.Sequential) and len(model) > 0 and isinstance(model[0], nn.Linear)
    hint = (
        " An nn.Sequential that starts with nn.Linear takes each object on its own: put "
        "nn.Flatten() first, so that it takes the whole set (B, N * F)."
        if flat
        else " An MLP from make_mlp takes only the set size it was built for (n_objects)."
    )
    try:
        p = model(X, *mask)
    except RuntimeError as e:  # e.g. an MLP built for another set size: a matmul shape error
        raise ValueError(
            f"{type(model).__name__} could not take sets of shape {tuple(X.shape)} (B, N, F): "
            f"{e}.{hint}"
        ) from e
    if not isinstance(p, torch.Tensor) or (target is not None and p.shape != (X.shape[0], *target)):
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        want = ", ".join(map(str, target or ("...",)))
        raise ValueError(
            f"the model must map (B, N, F) to (B, {want}), got {got}.{hint if flat else ''}"
        )
    return p


@torch.no_grad()
def predict(
    model: nn.Module,
    X: torch.Tensor,
    mask: torch.Tensor | None = None,
    target: tuple[int, ...] | None = (1,),
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
    probabilities: bool = True,
    target: tuple[int, ...] | None = (1,),
    names: Sequence[str] | None = None,
) -> list[torch.Tensor]:
    """Every model's outputs on X (B, N, F), in eval mode, before any training: of shape
    (B, *target), of its parameters' dtype, and probabilities if `probabilities`."""
    outs = []
    for i, m in enumerate(models):
        name = f"models[{i}]" if names is None else names[i]
        p = predict(m, X, mask, target)  # (B, *target)
        dtype = next(m.parameters()).dtype
        if p.dtype != dtype:  # the loss and its gradient are computed in the models' dtype
            raise TypeError(
                f"{name} returns outputs of dtype {p.dtype} but its parameters are "
                f"{dtype}: its forward must return its parameters' dtype"
            )
        if probabilities:
            check_probabilities(p, name)
        outs.append(p)
    return outs


def check_probabilities(p: torch.Tensor, what: str) -> None:
    """A ValueError if the outputs p of `what` are not probabilities in [0, 1]."""
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError(
            f"{what} must output probabilities in [0, 1] (end with a sigmoid, not logits), "
            f"got {p.flatten()[:8].tolist()}"
        )


def check_step(
    p: torch.Tensor, name: str, step: int, steps: int, lr: float, then: str = ""
) -> None:
    """A ValueError naming `name` and `step` (of `steps`) if its outputs p there are not all
    probabilities: they turned NaN (its weights diverged); `then` says what became of it."""
    bad = ~((p >= 0) & (p <= 1))  # NaN fails both
    if bool(bad.any()):
        value = p.detach()[bad].flatten()[0].item()
        shown = "NaN" if math.isnan(value) else f"{value:g}, not a probability in [0, 1],"
        raise ValueError(
            f"{name}'s outputs turned {shown} at step {step} of {steps}: its weights diverged "
            f"(lr={lr:g} may be too large){'; ' + then if then else ''}"
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
    """Binary cross-entropy and accuracy (threshold 0.5) of `model` on X (B, N, F), y (B, 1)
    (labels 0 or 1, of any dtype); float X takes the model's dtype. A model that outputs
    anything but probabilities, or takes no mask when given one, is refused."""
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
