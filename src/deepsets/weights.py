"""Save and load trained models as safetensors (no pickle): weights plus the architecture.

The architecture is stored in the file's metadata, so `load_model(path)` rebuilds the
right network, a DeepSet or an MLP from `make_mlp`, and fills in its weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from deepsets.models import DeepSet, make_mlp
from deepsets.models.activation import activation_name


def describe(model: nn.Module) -> dict:
    """The architecture of a DeepSet or a `make_mlp` network, as a JSON-able dict."""
    if isinstance(model, DeepSet):
        return {"kind": "DeepSet", **model.config}
    if isinstance(model, nn.Sequential) and isinstance(model[0], nn.Flatten):
        linears = [m for m in model if isinstance(m, nn.Linear)]
        acts = {activation_name(m) for m in model[1:-1] if not isinstance(m, nn.Linear)}
        return {
            "kind": "MLP",
            "hidden": [m.out_features for m in linears[:-1]],
            "activation": acts.pop() if acts else None,
            "in_features": linears[0].in_features,
        }
    raise TypeError(f"can only save a DeepSet or a make_mlp network, got {type(model).__name__}")


def build(arch: dict) -> nn.Module:
    """An untrained model of the architecture `describe` returned."""
    arch = dict(arch)
    kind = arch.pop("kind")
    if kind == "DeepSet":
        return DeepSet(**arch)
    if kind == "MLP":
        return make_mlp(tuple(arch["hidden"]), arch["activation"], n_objects=arch["in_features"])
    raise ValueError(f"unknown model kind {kind!r} (expected 'DeepSet' or 'MLP')")


def save_model(model: nn.Module, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `model`'s weights and architecture to `path` (.safetensors); never overwrites."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {path}: the directory {path.parent} does not exist"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"deepsets": json.dumps(describe(model))})
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at `path` by `save_model`, in eval mode."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    if "deepsets" not in meta:
        raise ValueError(f"{path} is a safetensors file but was not written by deepsets.save_model")
    model = build(json.loads(meta["deepsets"])).to(device)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise ValueError(f"{path}: the weights do not fit the stored architecture: {e}") from e
    return model.eval()
