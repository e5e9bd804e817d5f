"""Training as in the exercise: Adam on binary cross-entropy, a fresh batch every step.

The loop is kept lean for tiny models: losses stay on the device and are fetched once, Adam
updates all parameters in one multi-tensor step, and the data is made in chunks of batches.
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from deepsets.data import as_generator, check_n_sets, make_data, stream


def count_params(model: nn.Module) -> int:
    """The number of trainable parameters of `model`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params expects a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (cpu for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def check_training_args(steps: object, batch_size: object, lr: object) -> None:
    """Raise a clear error for a bad number of steps, batch size or learning rate."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if batch_size == 0 or (isinstance(batch_size, numbers.Integral) and batch_size < 2):
        raise ValueError(f"batch_size must be an even integer >= 2, got {batch_size!r}")
    check_n_sets(batch_size, "batch_size")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")


def run_model(model: nn.Module, X: torch.Tensor, *mask: torch.Tensor) -> torch.Tensor:
    """model(X, *mask) -> (B, 1), or a ValueError saying which input the model could not take."""
    try:
        p = model(X, *mask)
    except RuntimeError as e:  # e.g. an MLP built for another set size: a matmul shape error
        raise ValueError(
            f"{type(model).__name__} could not take sets of shape {tuple(X.shape)} (B, N, F): "
            f"{e}. An MLP from make_mlp takes only the set size it was built for (n_objects)."
        ) from e
    if p.shape != (X.shape[0], 1):
        raise ValueError(f"the model must map (B, N, 1) to (B, 1), got {tuple(p.shape)}")
    return p


def make_adam(params, lr: float) -> torch.optim.Adam:
    """Adam with one multi-tensor (foreach) update per step."""
    return torch.optim.Adam(params, lr=lr, foreach=True)


def recommended_threads(device: torch.device | str = "cpu") -> int:
    """The torch CPU thread count we recommend for training these tiny models: 1 on a CPU.

    Measured on a 2-core CPU (benchmarks/README.md): the whole study trains in about the same
    time on one thread as on two when the machine is idle, and up to ten times slower on two
    when anything else wants a core, as intra-op threads then wait for each other. On CUDA the
    CPU only launches kernels, so one thread is enough there too. Nothing here sets it: pass it
    to `torch.set_num_threads` (the study's `threads` setting does).
    """
    torch.device(device)  # validates the argument
    return 1


def show_progress(progress: bool | None) -> bool:
    """A progress bar only when asked, or by default when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def train(
    model: nn.Module,
    steps: int = 4000,
    *,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: torch.Generator | int | None = None,
    n_objects: int = 10,
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
        n_objects: objects per set in the training data.
        sizes: (lo, hi) to train on sets of varying size (`make_padded_data`), passed to the
            model with their mask as `model(X, mask)`; the model must take a mask (DeepSet).
        progress: show a tqdm bar; None shows one only on a terminal.

    Returns:
        The trained model and the loss of every step, a float array of shape (steps,).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"train expects a torch.nn.Module, got {type(model).__name__}")
    check_training_args(steps, batch_size, lr)
    if sizes is not None and "mask" not in inspect.signature(model.forward).parameters:
        raise TypeError(
            f"sizes={sizes!r} trains on sets of varying size, which needs a model whose forward "
            f"takes a mask (like DeepSet); {type(model).__name__} does not"
        )
    device = model_device(model)
    g = as_generator(seed, device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    flat = flatten(params)  # (P,) every parameter, or None if they cannot share one tensor
    opt = make_adam(model.parameters() if flat is None else [flat], lr)
    losses = torch.empty(steps, device=device)  # (T,), filled on the device, fetched once
    bar = tqdm(total=steps, desc="train", disable=not show_progress(progress), leave=False)
    batches = stream(
        steps, batch_size, n_objects=n_objects, sizes=sizes, generator=g, device=device
    )
    try:
        for t, (X, y, *mask) in enumerate(batches):
            p = run_model(model, X, *mask) if t == 0 else model(X, *mask)  # (B, 1)
            loss = F.binary_cross_entropy(p, y)
            if flat is None:
                opt.zero_grad(set_to_none=True)
            else:
                flat.grad.zero_()  # the parameters' .grad are views of it: backward adds there
            loss.backward()
            opt.step()
            losses[t] = loss.detach()
            if (t + 1) % 250 == 0 or t + 1 == steps:
                bar.update(t + 1 - bar.n)
    finally:
        if flat is not None:
            unflatten(params)
        bar.close()
    model.eval()
    return model, losses.cpu().numpy().astype(np.float64)


@torch.no_grad()
def flatten(params: list[torch.Tensor]) -> torch.Tensor | None:
    """One flat tensor (P,) with a flat .grad, of which `params` and their .grad become views.

    Adam then updates one tensor per step instead of one per parameter: the same arithmetic
    element by element (bit for bit), in a fraction of the launches. (One difference: a
    parameter that gets no gradient in some step is stepped with gradient 0, where torch's Adam
    would skip it; parameters never used stay unchanged either way.) None if the parameters
    differ in dtype or device. Undo with `unflatten`.
    """
    if not params or any(
        p.dtype != params[0].dtype or p.device != params[0].device for p in params
    ):
        return None
    flat = torch.cat([p.detach().flatten() for p in params])  # (P,)
    flat.grad = torch.zeros_like(flat)
    sizes = [p.numel() for p in params]
    for p, w, grad in zip(params, flat.split(sizes), flat.grad.split(sizes), strict=True):
        p.data = w.view_as(p)
        p.grad = grad.view_as(p)
    return flat


@torch.no_grad()
def unflatten(params: list[torch.Tensor]) -> None:
    """Give every parameter (and its .grad) its own memory again, after `flatten`."""
    for p in params:
        p.data = p.data.clone()
        p.grad = p.grad.clone()


@torch.no_grad()
def evaluate(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
) -> dict[str, float]:
    """Binary cross-entropy and accuracy (threshold 0.5) of `model` on X (B, N, F), y (B, 1)."""
    was_training = model.training
    model.eval()
    p = model(X) if mask is None else model(X, mask)  # (B, 1)
    model.train(was_training)
    loss = F.binary_cross_entropy(p, y).item()
    acc = ((p > 0.5).float() == y).float().mean().item()
    return {"loss": loss, "accuracy": acc}


def held_out_set(
    N: int = 10_000, *, seed: int = 12345, n_objects: int = 10, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed held-out set: `make_data(N)` from its own seed, never seen in training."""
    return make_data(N, n_objects=n_objects, generator=seed, device=device)
