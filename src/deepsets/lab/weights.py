"""Every study's weights/: one file per trained model, `weights/<name>.safetensors`, written by
`deepsets.save_model`, so that `deepsets.load_model` rebuilds each model with its architecture
(the exercise's DeepSets and MLPs, the digit study's DeepSet, LSTM, GRU and Set Transformer, the
theory study's DeepSets and networks)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from torch import nn

from deepsets.weights import save_model


def slug(name: str) -> str:
    """A file name from a label: 'wider latent (L = 8)' -> 'wider-latent-l-8'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_weights(root: Path, models: Mapping[str, nn.Module]) -> None:
    """root/weights/<name>.safetensors for every model (the names are file names, unique)."""
    (root / "weights").mkdir(exist_ok=True)
    for name, model in models.items():
        save_model(model, root / "weights" / f"{name}.safetensors")
