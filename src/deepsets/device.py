"""Resolve the device once ("auto", "cpu" or "cuda") and pass it down.

Every public function that takes a `device` sends it through `resolve_device`, so a typo or a
missing GPU gets this module's message, not one from deep inside torch.
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda if available else cpu; "cuda" without a GPU is an error, not a fallback.

    A torch.device is returned as it is, after the same check that its GPU exists.
    """
    if isinstance(device, torch.device):
        if device.type == "cuda":
            _check_cuda(str(device), device.index)
        return device
    if not isinstance(device, str) or device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} or a torch.device, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        _check_cuda(device, None)
    return torch.device(device)


def _check_cuda(name: str, index: int | None) -> None:
    if not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r} was asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'"
        )
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device {name!r} was asked for, but torch sees only "
            f"{torch.cuda.device_count()} CUDA GPU(s)"
        )
