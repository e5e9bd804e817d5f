"""Every study's weights/: one file per trained model, `weights/<name>.safetensors`.

A model that `deepsets.save_model` can describe is written by it, so `deepsets.load_model`
rebuilds it with its architecture. The others (the digit study's DeepSet, LSTM, GRU and Set
Transformer, the theory study's smooth-max, per-object and equivariant networks) are not yet in
the weights format: until it describes them, their state dict is written with the model's class
name and the study's own metadata, to be rebuilt by the study's constructor. `RAW` marks that
fallback: it is the one place to remove once save_model takes every model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from safetensors.torch import save as serialize
from torch import nn

from deepsets.files import write_atomic
from deepsets.weights import describe, save_model

RAW = "raw-state-dict"  # the metadata `format` of a fallback file (see the module docstring)


def slug(name: str) -> str:
    """A file name from a label: 'wider latent (L = 8)' -> 'wider-latent-l-8'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def saveable(model: nn.Module) -> bool:
    """Whether `deepsets.save_model` can write `model` so that `load_model` rebuilds it."""
    try:
        describe(model)
    except TypeError:
        return False
    return True


def write_weights(
    root: Path,
    models: Mapping[str, nn.Module],
    meta: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """root/weights/<name>.safetensors for every model (names are file names, unique);
    `meta[name]` is written beside a fallback file's weights (e.g. its task and seed)."""
    (root / "weights").mkdir(exist_ok=True)
    for name, model in models.items():
        path = root / "weights" / f"{name}.safetensors"
        if saveable(model):
            save_model(model, path)
            continue
        # the fallback: clones, because a module may register one tensor under two names
        # (the digit DeepSet: encoder and phi.0), which safetensors refuses
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        info = {"format": RAW, "class": type(model).__name__, **(meta or {}).get(name, {})}
        write_atomic(path, serialize(state, info), overwrite=False)
