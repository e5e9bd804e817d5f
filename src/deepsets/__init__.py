"""deepsets: permutation-invariant set networks, rho(sum_i phi(x_i)), tested and measured.

The exercise's names are all here: `make_data`, `DeepSet`, `make_mlp`, `train`,
`count_params`, plus the invariance check, the plots, saving and exporting models.
"""

from __future__ import annotations

from deepsets.checks import resolve_device
from deepsets.data import (
    all_sets,
    make_batches,
    make_data,
    make_padded_batches,
    make_padded_data,
)
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many, train_on
from deepsets.export import export_onnx
from deepsets.invariance import InvarianceCheck, check_invariance
from deepsets.models import POOLINGS, DeepSet, PermEquivariant, make_mlp, pool
from deepsets.plots import plot_losses, plot_sets
from deepsets.training import count_params, evaluate, train
from deepsets.weights import load_model, save_model

__version__ = "0.1.0"

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
