"""Save and load trained models as safetensors (no pickle): weights plus the architecture.

Only what can be restored exactly is saved: a `DeepSet` as its constructor builds it, or an MLP
that `models.mlp.check_mlp` recognises (per-layer activations, with or without a final
Sigmoid). Anything else is refused at save time, naming the layer. `load_model` checks the
stored architecture against the tensor shapes in the file's header before it builds anything,
so a damaged or hostile file costs a clear ValueError, never a large allocation.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as serialize
from torch import nn

from deepsets.device import resolve_device
from deepsets.files import write_atomic
from deepsets.models import DeepSet
from deepsets.models.mlp import MLPSpec, check_mlp, mlp_from_spec

KEYS = {
    "DeepSet": [
        {"hidden", "activation", "latent", "pooling", "rho_hidden", "rho_activation", "in_features"}
        | {"output"},
        # files of deepsets 0.1.0 to 0.2: every DeepSet ended with a sigmoid
        {
            "hidden",
            "activation",
            "latent",
            "pooling",
            "rho_hidden",
            "rho_activation",
            "in_features",
        },
    ],
    # files of deepsets 0.1.0 held make_mlp's arguments (one activation, a final Sigmoid)
    "MLP": [{"sizes", "activations", "sigmoid"}, {"hidden", "activation", "in_features"}],
}
MAX_METADATA_CHARS = 100_000  # a DeepSet's metadata is ~200 characters; an MLP's grows with depth
DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}


def describe(model: nn.Module) -> dict[str, Any]:
    """The architecture of a DeepSet or an MLP, as a JSON-able dict that rebuilds it exactly.

    Raises a TypeError naming what does not fit (a layer, a subclass, a changed DeepSet).
    """
    if isinstance(model, DeepSet):
        if type(model) is not DeepSet:
            raise TypeError(f"cannot save a subclass of DeepSet ({type(model).__name__})")
        if model.config is None:
            raise TypeError("cannot save a DeepSet of user modules")
        with torch.device("meta"):  # built for comparison only: no memory
            reference = DeepSet(**model.config)
        if str(reference) != str(model):
            raise TypeError(
                "cannot save this DeepSet: its layers were changed after it was built, so "
                f"its config no longer describes it:\n{model}"
            )
        return {"kind": "DeepSet", **model.config}
    if isinstance(model, nn.Sequential):
        spec = check_mlp(model)  # a TypeError naming the layer that does not fit
        return {
            "kind": "MLP",
            "sizes": list(spec.sizes),
            "activations": list(spec.activations),
            "sigmoid": spec.sigmoid,
        }
    raise TypeError(
        "model must be a DeepSet or a make_mlp network (an nn.Sequential MLP) to be saved, "
        f"got {type(model).__name__}"
    )


def build(arch: dict[str, Any]) -> nn.Module:
    """An untrained model of the architecture `describe` returned; its arguments are checked."""
    rest = {k: v for k, v in arch.items() if k != "kind"}
    if arch["kind"] == "DeepSet":
        return DeepSet(**rest)
    if "sizes" in rest:
        return mlp_from_spec(
            MLPSpec(_tuple(rest["sizes"]), _tuple(rest["activations"]), rest["sigmoid"])
        )
    hidden = _tuple(rest["hidden"])  # a file of deepsets 0.1.0: make_mlp(hidden, activation)
    spec = MLPSpec((rest["in_features"], *hidden, 1), (rest["activation"],) * len(hidden))
    return mlp_from_spec(spec)


def _tuple(value: object) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {value!r:.80}")
    return tuple(value)


def save_model(model: nn.Module, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `model`'s weights and architecture to `path` (.safetensors), atomically.

    Refuses (TypeError, naming the layer) a model that `load_model` could not rebuild exactly,
    and never replaces an existing file unless `overwrite`.
    """
    path = _check_path(path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    arch = describe(model)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    dtypes = {v.dtype for v in tensors.values()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
        raise TypeError(f"can only save a model whose weights share one float dtype, got {dtypes}")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save to {path}: the directory {path.parent} does not exist"
        )
    data = serialize(tensors, metadata={"deepsets": json.dumps(arch)})
    write_atomic(path, data, overwrite=overwrite)
    return path


def _check_path(path: object) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    return Path(path)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at `path` by `save_model`, in eval mode, on `device`."""
    path = _check_path(path)
    device = resolve_device(device)
    arch, dtype = read_header(path)
    model = build(arch).to(dtype)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    try:
        model.to(device).load_state_dict(tensors)
    except RuntimeError as e:
        raise ValueError(f"{path}: the weights do not fit the stored architecture: {e}") from e
    return model.eval()


def read_header(path: Path) -> tuple[dict[str, Any], torch.dtype]:
    """The stored architecture and weight dtype, checked against the tensors' shapes in the
    file's header without reading (or allocating) any weights; a ValueError says what is wrong."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    if "deepsets" not in meta:
        raise ValueError(f"{path} is a safetensors file but was not written by deepsets.save_model")
    arch = parse_arch(meta["deepsets"], str(path))
    if len(dtypes) != 1 or next(iter(dtypes)) not in DTYPES:
        raise ValueError(f"{path}: the weights must share one float dtype, got {sorted(dtypes)}")
    # Each size is at least one stored number and each layer at least one tensor, so a larger
    # or longer architecture cannot be right: refuse it before building even a shape-only copy.
    sizes, n_stored = _ints(arch), sum(math.prod(s) for s in shapes.values())
    if max(sizes, default=0) > n_stored or len(sizes) > len(shapes) + 8:
        raise ValueError(
            f"{path}: the weights do not fit the stored architecture: it lists {len(sizes)} "
            f"sizes up to {max(sizes, default=0)}, the file holds {n_stored} numbers in "
            f"{len(shapes)} tensors"
        )
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            expected = {k: tuple(v.shape) for k, v in build(arch).state_dict().items()}
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the stored architecture is invalid: {e}") from e
    if expected != shapes:
        raise ValueError(
            f"{path}: the weights do not fit the stored architecture {arch}: "
            f"expected tensors {expected}, the file holds {shapes}"
        )
    return arch, DTYPES[next(iter(dtypes))]


def parse_arch(text: str, where: str) -> dict[str, Any]:
    """The architecture dict of a file's metadata, with its kind and keys checked."""
    if len(text) > MAX_METADATA_CHARS:
        raise ValueError(f"{where}: the stored architecture is {len(text)} characters long")
    try:
        arch = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{where}: the stored architecture is not valid JSON ({e})") from e
    if not isinstance(arch, dict) or "kind" not in arch:
        raise ValueError(
            f"{where}: the stored architecture has no 'kind' ('DeepSet' or 'MLP'): {text:.80}"
        )
    kind = arch["kind"]
    if kind not in KEYS:
        raise ValueError(f"unknown model kind {kind!r} (expected 'DeepSet' or 'MLP') in {where}")
    keys = set(arch) - {"kind"}
    if keys not in KEYS[kind]:
        raise ValueError(
            f"{where}: a stored {kind} has the keys {sorted(KEYS[kind][0])}, got {sorted(keys)}"
        )
    return arch


def _ints(value: object) -> list[int]:
    """Every integer in a JSON value (bools excluded)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [i for v in value for i in _ints(v)]
    return []
