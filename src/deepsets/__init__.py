"""deepsets: permutation-invariant set networks, rho(sum_i phi(x_i)), tested and measured.

The exercise's names are all here: `make_data`, `DeepSet`, `make_mlp`, `train`,
`count_params`, plus the invariance check and the plots. Each is imported on first use (PEP 562),
so that `import deepsets`, and with it the `deepsets` command's start, does not load torch yet:
a Ctrl-C while torch loads can then end the command cleanly (`deepsets.entry`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepsets.data import (
        all_sets,
        make_batches,
        make_data,
        make_padded_batches,
        make_padded_data,
    )
    from deepsets.device import resolve_device
    from deepsets.engine.settings import Engine
    from deepsets.engine.train import train_many, train_on
    from deepsets.export import export_onnx
    from deepsets.invariance import InvarianceCheck, check_invariance
    from deepsets.models import POOLINGS, DeepSet, PermEquivariant, make_mlp, pool
    from deepsets.plots import plot_losses, plot_sets
    from deepsets.training import count_params, evaluate, train
    from deepsets.weights import load_model, save_model

__version__ = "0.1.0"

# each public name -> the module that defines it
WHERE = {
    **dict.fromkeys(
        ["make_data", "all_sets", "make_batches", "make_padded_data", "make_padded_batches"],
        "data",
    ),
    **dict.fromkeys(["DeepSet", "make_mlp", "PermEquivariant", "pool", "POOLINGS"], "models"),
    **dict.fromkeys(["train", "count_params", "evaluate"], "training"),
    **dict.fromkeys(["train_many", "train_on"], "engine.train"),
    "Engine": "engine.settings",
    **dict.fromkeys(["check_invariance", "InvarianceCheck"], "invariance"),
    **dict.fromkeys(["plot_sets", "plot_losses"], "plots"),
    **dict.fromkeys(["save_model", "load_model"], "weights"),
    "resolve_device": "device",
    "export_onnx": "export",
}

__all__ = [
    "make_data",
    "all_sets",
    "make_batches",
    "make_padded_data",
    "make_padded_batches",
    "DeepSet",
    "make_mlp",
    "PermEquivariant",
    "pool",
    "POOLINGS",
    "train",
    "train_many",
    "train_on",
    "Engine",
    "count_params",
    "evaluate",
    "check_invariance",
    "InvarianceCheck",
    "plot_sets",
    "plot_losses",
    "save_model",
    "load_model",
    "resolve_device",
    "export_onnx",
]


def __getattr__(name: str) -> Any:
    """A public name (imported from its module), or a submodule (`deepsets.training`)."""
    if name in WHERE:
        value = getattr(importlib.import_module(f"deepsets.{WHERE[name]}"), name)
    else:
        try:
            value = importlib.import_module(f"deepsets.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"deepsets.{name}":
                raise
            raise AttributeError(f"module 'deepsets' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *WHERE})
