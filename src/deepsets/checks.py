"""The argument checks, once: every public function validates its inputs with these before any
work. Each takes the value and the argument's `name` as the caller spells it (`seeds`,
`sizes[1]`, `--max-objects`) and returns the value as the caller uses it, or raises a
ValueError (a TypeError where the type is wrong) that names it.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import resource
import stat
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeGuard, Union, get_args, get_origin

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


def check_type(value: object, kind: object, name: str) -> None:
    """A ValueError naming `name` unless `value` (as JSON holds it: lists for tuples) is of the
    annotated type `kind`: bool, int, float, str, None, a Literal, a union of these or a tuple,
    list or Sequence of them. Other annotations pass: what they say is checked where used."""
    if not fits(value, kind):
        shown = kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")
        raise ValueError(f"{name} must be of type {shown}, got {value!r:.80}")


def fits(value: object, kind: object) -> bool:
    """Whether `value` is of the annotated type `kind` (see `check_type`)."""
    origin, args = get_origin(kind), get_args(kind)
    simple: dict[object, bool] = {
        type(None): value is None,
        bool: isinstance(value, bool),
        int: is_int(value),
        float: isinstance(value, numbers.Real) and not isinstance(value, bool),
        str: isinstance(value, str),
    }
    if kind in simple:
        return simple[kind]
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin not in (tuple, list, Sequence):
        return True
    if not isinstance(value, list | tuple):
        return False
    if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, str]: fixed length
        return len(value) == len(args) and all(map(fits, value, args))
    return not args or all(fits(v, args[0]) for v in value)


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


MEMORY_FRACTION = 0.5  # one run or call may take at most this share of the memory it may use
# Smaller requests pass unchecked: reading the limits (~0.1 ms) would cost more than making
# them (make_data(100): 0.1 ms), and a process that has loaded torch fits them.
UNCHECKED_BYTES = 2**26
# Floats kept per hidden unit and object during a training step: the activation, its
# pre-activation and its gradient (train_on's batch check and the studies' estimates).
ACTIVATION_FLOATS = 3
CGROUP_ROOT = Path("/sys/fs/cgroup")  # where the cgroup filesystems are mounted
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroups


def usable_memory() -> tuple[int, str]:
    """The bytes this process may use and what sets them: the least of physical memory, the
    soft RLIMIT_AS less the address space already mapped, and the cgroup's memory limit (what
    a job scheduler or a container sets)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        ram = 16 * 2**30
    found = [(ram, "physical memory")]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        found.append((max(0, soft - mapped_bytes()), "RLIMIT_AS (ulimit -v) less what is mapped"))
    cgroup = cgroup_limit()
    if cgroup is not None:
        found.append((cgroup, "the cgroup's memory limit"))
    return min(found)


def mapped_bytes() -> int:
    """The address space this process has mapped (VmSize), which RLIMIT_AS counts; 0 if
    unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def cgroup_limit() -> int | None:
    """The least memory limit of this process's cgroup and its ancestors (v2 `memory.max`, v1
    `memory.limit_in_bytes`; "max" is none), or None. Where the cgroup's own folder is not
    mounted (a container sees its cgroup as the root), the root's limit is read."""
    try:
        lines = PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for _, controllers, path in (line.split(":", 2) for line in lines if line.count(":") >= 2):
        if controllers == "":
            folder, name = CGROUP_ROOT, "memory.max"
        elif "memory" in controllers.split(","):
            folder, name = CGROUP_ROOT / "memory", "memory.limit_in_bytes"
        else:
            continue
        here = folder / path.strip("/")
        for d in [here, *here.parents]:
            with contextlib.suppress(OSError, ValueError):
                text = (d / name).read_text().strip()
                limits.append(int(text) if text != "max" else None)
            if d == folder:
                break
    return min((n for n in limits if n is not None), default=None)


def memory_limit() -> int:
    """Bytes one run or call may allocate: MEMORY_FRACTION of `usable_memory()`."""
    return int(usable_memory()[0] * MEMORY_FRACTION)


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; the largest unit that keeps the number at least 1."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_memory(n_bytes: float, what: str) -> None:
    """A ValueError before allocating, if `what` (which names the size argument) would need
    more than `memory_limit()` bytes: the message says how much it would need, and what sets
    the limit."""
    if n_bytes <= UNCHECKED_BYTES:
        return
    limit = memory_limit()
    if n_bytes > limit:
        usable, source = usable_memory()
        raise ValueError(
            f"{what} would need about {format_bytes(n_bytes)} of memory, more than the "
            f"{format_bytes(limit)} allowed ({MEMORY_FRACTION:.0%} of the "
            f"{format_bytes(usable)} this process may use: {source}); use a smaller size"
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
