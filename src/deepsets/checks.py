"""The argument checks, once: every public function validates its inputs with these before any
work. Each takes the value and the argument's `name` as the caller spells it (`seeds`,
`sizes[1]`, `--max-objects`) and returns the value as the caller uses it, or raises a
ValueError (a TypeError where the type is wrong) that names it.
"""

from __future__ import annotations

import math
import numbers
import os
import stat
from pathlib import Path
from typing import TypeGuard

import numpy as np
import torch
from torch import nn

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes seeds up to this (a signed 64-bit int)


def is_int(value: object) -> TypeGuard[int]:
    """True for ints (and numpy integers), False for bools, floats and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value: object, name: str) -> int:
    """`value` as an int if it is an integer >= 1, else a ValueError naming `name`."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_flag(value: object, name: str) -> bool:
    """`value` if it is a bool, else a TypeError naming `name`."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(value: object, choices: tuple[str, ...], name: str) -> str:
    """`value` if it is one of `choices`, else a ValueError naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def positive_ints(values: object, name: str, *, empty: bool = False) -> tuple[int, ...]:
    """A tuple or list of positive integers (non-empty unless `empty`), as a tuple."""
    if not isinstance(values, tuple | list) or not (values or empty):
        what = "a list" if empty else "a non-empty list"
        raise ValueError(f"{name} must be {what} of positive integers, got {values!r}")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))


def positive_float(value: object, name: str) -> float:
    """`value` as a float if it is a finite number > 0, else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
        0 < float(value) < math.inf
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def seed_int(value: object, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63 - 1], the range torch.Generator accepts."""
    if not is_int(value) or not 0 <= int(value) <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {value!r}")
    return int(value)


def check_seed(value: object, name: str = "seed") -> None:
    """A torch.Generator or an integer seed in [0, 2**63 - 1]; else an error naming `name`."""
    if isinstance(value, torch.Generator):
        return
    if not is_int(value):  # the TypeError of as_generator
        raise TypeError(f"{name} must be a torch.Generator or an integer seed, got {value!r}")
    seed_int(value, name)


def check_n_sets(N: object, name: str = "N") -> int:
    """A number of sets: a positive even integer, so both classes get N/2."""
    must = f"{name} must be a positive even integer (a balanced set needs {name}/2 of each class)"
    if not is_int(N):
        raise TypeError(f"{must}, got {N!r} of type {type(N).__name__}")
    if N <= 0 or N % 2:
        raise ValueError(f"{must}, got {N}")
    return int(N)


def check_sizes(sizes: object, name: str = "sizes", least: int = 0) -> tuple[int, int]:
    """Set sizes (lo, hi): a pair of integers with least <= lo <= hi and hi >= 1 (lo = 0
    allows empty sets); else a ValueError naming `name`, or `name[i]` for the entry at fault."""
    if not isinstance(sizes, tuple | list) or len(sizes) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi), got {sizes!r}")
    for i, n in enumerate(sizes):
        if not is_int(n):
            raise ValueError(f"{name}[{i}] must be an integer, got {n!r}")
        least_n = max(least, i)  # hi >= 1: sets of at most 0 objects hold nothing
        if n < least_n:
            must = "a positive integer" if least_n == 1 else f"at least {least_n}"
            raise ValueError(f"{name}[{i}] must be {must}, got {n}")
    lo, hi = int(sizes[0]), int(sizes[1])
    if lo > hi:
        raise ValueError(f"{name} must satisfy lo <= hi, got {sizes!r}")
    return lo, hi


def check_training_args(steps: object, batch_size: object, lr: object) -> None:
    """Raise a clear error for a bad number of steps, batch size or learning rate."""
    positive_int(steps, "steps")
    check_n_sets(batch_size, "batch_size")
    positive_float(lr, "lr")


MEMORY_FRACTION = 0.5  # one array may take at most this share of the machine's physical memory
# Floats kept per hidden unit and object during a training step: the activation, its
# pre-activation and its gradient (train_on's batch check and the studies' estimates).
ACTIVATION_FLOATS = 3


def memory_limit() -> int:
    """Bytes one call may allocate: MEMORY_FRACTION of physical memory (8 GiB if unknown)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        total = 16 * 2**30
    return int(total * MEMORY_FRACTION)


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; the largest unit that keeps the number at least 1."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_memory(n_bytes: float, what: str) -> None:
    """A ValueError before allocating, if `what` (which names the size argument) would need
    more than `memory_limit()` bytes: the message says how much it would need."""
    limit = memory_limit()
    if n_bytes > limit:
        raise ValueError(
            f"{what} would need about {format_bytes(n_bytes)} of memory, more than the "
            f"{format_bytes(limit)} allowed ({MEMORY_FRACTION:.0%} of this machine's); "
            "use a smaller size"
        )


def check_finite(t: torch.Tensor, name: str) -> None:
    """A ValueError naming `name` and the index of its first NaN or infinity, if it holds one
    (integer, boolean and meta tensors pass)."""
    if not (t.is_floating_point() or t.is_complex()) or t.is_meta:  # meta: no values
        return
    bad = ~torch.isfinite(t.detach())
    if bool(bad.any()):
        first = int(bad.reshape(-1).to(torch.uint8).argmax())  # the first non-finite entry
        index = ", ".join(str(int(i)) for i in np.unravel_index(first, tuple(t.shape)))
        raise ValueError(
            f"{name} must hold finite numbers, got {t.reshape(-1)[first].item()} at "
            f"{name}[{index}] ({int(bad.sum())} non-finite value(s) in all)"
        )


def check_finite_parameters(model: nn.Module, what: str) -> None:
    """A ValueError naming the first parameter or buffer of `model` (called `what`) that holds
    a NaN or an infinity, and where: such a model outputs NaN whatever its input."""
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        check_finite(t, f"{what}.{name}")


def check_not_compiled(model: nn.Module, name: str, why: str) -> None:
    """A TypeError naming `name` (or its part) if torch.compile compiled it: an OptimizedModule,
    a module after its `.compile()`, or one whose forward was compiled. Such a model compiles
    at its first call (half a minute), only for `why` to refuse it then."""
    for part, m in model.named_modules():
        what = f"{name}.{part}" if part else name
        if hasattr(m, "_orig_mod"):  # torch.compile(module): an OptimizedModule
            fix = f"pass {what}._orig_mod, the module it compiles"
        elif getattr(m, "_compiled_call_impl", None) is not None:  # module.compile()
            fix = "pass a copy made before its .compile()"
        elif hasattr(m.__dict__.get("forward"), "_torchdynamo_orig_callable"):
            fix = f"`del {what}.forward` gives it back its own forward"
        else:
            continue
        raise TypeError(f"{what} is compiled by torch.compile, and {why}: {fix}")


def check_sets(X: object, y: object = None, mask: object = None) -> torch.Tensor:
    """Sets X (B, N, F) of finite reals (or integer tokens), B >= 1, on a usable device; y, if
    given, (B, ...) finite; mask, if given, boolean (B, N). Else an error naming the argument."""
    if not isinstance(X, torch.Tensor) or X.dim() != 3:
        got = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"X must be a tensor of shape (B, N, F): B sets of N objects, got {got}")
    check_placed(X, "X")
    if X.shape[0] < 1:
        raise ValueError(f"X must hold at least one set (B >= 1), got shape {tuple(X.shape)}")
    if X.dtype == torch.bool or X.is_complex():  # integers pass: tokens (digit sums)
        raise TypeError(f"X must be a tensor of real numbers or integer tokens, got {X.dtype}")
    check_finite(X, "X")
    if y is not None:
        if not isinstance(y, torch.Tensor) or y.dim() < 1 or y.shape[0] != X.shape[0]:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y must be a tensor ({X.shape[0]}, ...), one row per set, got {got}")
        check_placed(y, "y")
        check_finite(y, "y")
    if mask is not None and (
        not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != X.shape[:2]
    ):
        raise ValueError(f"mask must be a boolean tensor of shape {tuple(X.shape[:2])} (B, N)")
    return X


DEVICES = ("auto", "cpu", "cuda")
EXPECTED = f"one of {DEVICES} or a torch.device of the CPU or of an available CUDA GPU"


def resolve_device(device: str | torch.device = "auto", name: str = "device") -> torch.device:
    """ "auto" -> cuda if available else cpu; "cuda" without a GPU is an error, not a fallback.
    A torch.device must be the CPU (returned as torch.device("cpu")) or a present GPU;
    anything else is a ValueError naming the argument `name` and what it takes."""
    if not isinstance(device, torch.device):
        if not isinstance(device, str) or device not in DEVICES:
            raise ValueError(f"{name} must be {EXPECTED}, got {device!r}")
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(device)
    why = unusable(device)
    if why is None:  # cpu:0 is the CPU, spelled as safetensors and every device check take it
        return torch.device("cpu") if device.type == "cpu" else device
    if device.type == "cuda":
        raise ValueError(f"{name} {str(device)!r} was asked for, but {why}")
    raise ValueError(f"{name} must be {EXPECTED}, got {device!r}: {why}")


def unusable(device: torch.device) -> str | None:
    """Why deepsets cannot compute on `device`, or None if it can."""
    if device.type == "cpu":
        return None
    if device.type == "meta":
        return "a meta device holds shapes but no data"
    if device.type != "cuda":
        return f"deepsets computes on the CPU or a CUDA GPU, not on {device.type!r}"
    if not torch.cuda.is_available():
        return "torch sees no CUDA GPU; use 'cpu' or 'auto'"
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"torch sees only {torch.cuda.device_count()} CUDA GPU(s)"
    return None


def check_placed(value: object, name: str) -> None:
    """A ValueError naming `name` if the tensor, module or generator `value` lives on a device
    deepsets cannot compute on (meta, mps, a missing GPU); anything else passes."""
    if isinstance(value, torch.Tensor | torch.Generator):
        devices = {value.device}
    elif isinstance(value, nn.Module):
        devices = {t.device for t in (*value.parameters(), *value.buffers())}
    else:
        return
    for device in sorted(devices, key=str):
        why = unusable(device)
        if why is not None:
            raise ValueError(
                f"{name} is on {str(device)!r}, where deepsets cannot compute ({why}); move it "
                "to the CPU (.to('cpu')) or an available CUDA GPU"
            )


def check_all_placed(**values: object) -> None:
    """`check_placed` of every keyword argument, named by its keyword: check_all_placed(X=X)."""
    for name, value in values.items():
        check_placed(value, name)


def as_generator(
    generator: torch.Generator | int | None,
    device: torch.device | str | None = None,
    name: str = "generator",
) -> torch.Generator:
    """A torch.Generator from a generator, an integer seed or None (a fresh, unseeded one)."""
    if isinstance(generator, torch.Generator):
        check_placed(generator, name)
        return generator
    if generator is not None and not is_int(generator):
        raise TypeError(
            f"{name} must be a torch.Generator, an integer seed or None, got {generator!r}"
        )
    g = torch.Generator(device=torch.device(device) if device is not None else "cpu")
    if generator is None:
        g.seed()  # non-deterministic, and leaves torch's global generator alone
    else:
        g.manual_seed(seed_int(generator, name))
    return g


def check_readable(path: Path) -> None:
    """A ValueError naming `path` and the cause unless it is a regular file this process can
    open; anything else is never opened (opening a FIFO would wait for a writer)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            os.close(os.open(path, os.O_RDONLY))  # a regular file: opens at once, or EACCES
    except OSError as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e.strerror or e}") from e
    if not stat.S_ISREG(mode):
        kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}
        kind = next((k for test, k in kinds.items() if test(mode)), "a device file")
        raise ValueError(
            f"{path} is not a readable safetensors file: it is {kind}, not a regular file"
        )
