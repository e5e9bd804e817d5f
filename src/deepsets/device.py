"""Resolve the device once ("auto", "cpu" or "cuda") and pass it down; refuse any other.

deepsets computes on the CPU or on a CUDA GPU that torch sees. Every public function that takes
a `device` sends it through `resolve_device`, and every one that takes tensors or models checks
where they live with `check_placed`, so a typo, a missing GPU, a data-less 'meta' tensor or a
backend deepsets does not run on ('mps', 'xla', ...) gets this module's message, naming the
argument, not one from deep inside torch. The names alone are checked in `deepsets.values`
(no torch), where a study's settings check them first.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.values import DEVICES, check_device_name
from deepsets.values import EXPECTED_DEVICE as EXPECTED

__all__ = [
    "DEVICES",
    "EXPECTED",
    "check_all_placed",
    "check_placed",
    "resolve_device",
    "unusable",
    "usable",
]


def resolve_device(device: str | torch.device = "auto", name: str = "device") -> torch.device:
    """ "auto" -> cuda if available else cpu; "cuda" without a GPU is an error, not a fallback.

    A torch.device is returned as it is (a CPU one as torch.device("cpu")), after the same
    check: its type must be cpu, or cuda with that GPU present. Anything else (meta, mps, xla,
    an unknown string, an int, None) is a ValueError naming the argument `name` and what it
    takes.
    """
    if isinstance(device, torch.device):
        return usable(device, name)
    if check_device_name(device, name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return usable(torch.device(device), name)


def usable(device: torch.device, name: str) -> torch.device:
    """`device` if deepsets can compute on it (the CPU, or a CUDA GPU torch sees), else a
    ValueError naming `name` that says why."""
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
    """A ValueError naming `name` if the tensor, module (its parameters and buffers) or
    generator `value` lives on a device deepsets cannot compute on (meta, mps, a missing GPU);
    anything else passes (its own check says what it must be)."""
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
