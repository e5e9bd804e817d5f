"""Save and load trained models as safetensors (no pickle): weights plus the architecture.

Only what can be rebuilt exactly is saved: a `DeepSet` of widths or of package modules, an MLP
(`check_mlp`), and the registered models (`MODELS`: `SetModel` and the studies' models, which
`register` when imported; `STUDY_KINDS` says which study to import), rebuilt from the arguments
they keep (`recorded`). `load_model` checks the architecture against the header's shapes before
it builds anything, so a damaged or hostile file costs a clear ValueError, not an allocation.
"""

from __future__ import annotations

import importlib
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

from deepsets.checks import (
    check_finite_parameters,
    check_flag,
    check_placed,
    check_readable,
    is_int,
    resolve_device,
)
from deepsets.files import check_target, write_atomic
from deepsets.models import DeepSet
from deepsets.models.activation import ACTIVATIONS, activation_name
from deepsets.models.arguments import argument_names, rebuild
from deepsets.models.deepset import PHI_WIDTHS, RHO_KEYS, widths_of
from deepsets.models.mlp import MLPSpec, check_mlp, mlp_from_spec
from deepsets.models.set_transformer import SetModel

WIDTHS = {*PHI_WIDTHS, "pooling", *RHO_KEYS}  # a DeepSet's `config`: its flat widths
KEYS = {
    "DeepSet": [
        WIDTHS,
        WIDTHS - {"output"},  # files of deepsets 0.1.0 (before `output`): all ended in a sigmoid
        {"pooling", "phi", "rho"},  # phi and rho described as modules (`module_of`)
    ],
    # files of deepsets 0.1.0 (its first day) held make_mlp's arguments (one activation, a
    # final Sigmoid)
    "MLP": [{"sizes", "activations", "sigmoid"}, {"hidden", "activation", "in_features"}],
}
# the other models, rebuilt as cls(**model.arguments); their keys: cls's arguments
MODELS: dict[str, type[nn.Module]] = {"SetModel": SetModel}
# the modules of a saved DeepSet's phi and rho that keep their constructor arguments (`recorded`)
RECORDED_MODULES: dict[str, type[nn.Module]] = {}
# the kinds the studies register, and the module that registers each when it is imported
STUDY_KINDS = {
    **dict.fromkeys(("RecurrentSum", "SetTransformer"), "digits.models"),
    **dict.fromkeys(("DigitEncoder", "ConvEncoder", "DigitHead", "DigitValues"), "digits.encoders"),
    **dict.fromkeys(("SmoothMaxDeepSet", "PerElementNet", "EquivariantNet"), "theory.models"),
    "PopStatsDeepSet": "popstats.models",
}  # under deepsets.studies
MAX_METADATA_CHARS = 100_000  # a DeepSet's metadata is ~200 characters; an MLP's grows with depth
# a DeepSet of package modules nests ~6 levels (phi > Sequential > layers > Linear); a hostile
# header may nest 50,000, which would exhaust Python's recursion in json or in `build`
MAX_METADATA_DEPTH = 32
UNUSED = 4096  # an unused width a file may list beyond its stored numbers (built shape-only)
TIES = "deepsets_ties"  # the metadata entry of a model's ties (`ties`), if it has any
DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}


def register(*classes: type[nn.Module], part: bool = False) -> None:
    """Let files hold `classes` (each @recorded): whole models, or with `part` modules of a
    DeepSet's phi and rho. A study calls it when its models' module is imported."""
    for cls in classes:
        (RECORDED_MODULES if part else MODELS)[cls.__name__] = cls


def modules() -> tuple[str, ...]:
    """The kinds of module a saved DeepSet's phi and rho may be built of."""
    return ("Sequential", "Linear", "Identity", *RECORDED_MODULES, *ACTIVATIONS)


def import_kind(kind: object) -> None:
    """Import the study module that registers `kind` (a file's model or module), if one does."""
    if isinstance(kind, str) and kind in STUDY_KINDS and kind not in {*MODELS, *RECORDED_MODULES}:
        importlib.import_module(f"deepsets.studies.{STUDY_KINDS[kind]}")


def describe(model: nn.Module) -> dict[str, Any]:
    """The architecture of a model the file format knows, as a JSON-able dict that rebuilds it
    exactly; a TypeError naming what does not fit (a layer, a subclass, a changed model)."""
    if type(model) in MODELS.values():
        arch = {"kind": type(model).__name__, **getattr(model, "arguments", {})}
        return same_when_rebuilt(model, arch)
    if isinstance(model, DeepSet):
        if type(model) is not DeepSet:
            raise TypeError(f"cannot save a subclass of DeepSet ({type(model).__name__})")
        if model.config is None:
            parts = {"phi": module_of(model.phi, "phi"), "rho": module_of(model.rho, "rho")}
            return {"kind": "DeepSet", "pooling": model.pooling, **parts}
        return same_when_rebuilt(model, {"kind": "DeepSet", **model.config})
    if isinstance(model, nn.Sequential):
        spec = check_mlp(model)  # a TypeError naming the layer that does not fit
        return {
            "kind": "MLP",
            "sizes": list(spec.sizes),
            "activations": list(spec.activations),
            "sigmoid": spec.sigmoid,
        }
    raise TypeError(
        "model must be a DeepSet, a make_mlp network (an nn.Sequential MLP) or one of the "
        f"package's models {sorted(MODELS)} to be saved, got {type(model).__name__}"
    )


def same_when_rebuilt(model: nn.Module, arch: dict[str, Any]) -> dict[str, Any]:
    """`arch` if `build(arch)` has `model`'s layers; else a TypeError (changed since built)."""
    try:
        json.dumps(arch, allow_nan=False)
        with torch.device("meta"):  # built for comparison only: no memory
            reference = build(arch)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot save this {arch['kind']}: its arguments {arch} ({e})") from e
    if str(reference) != str(model):
        raise TypeError(
            f"cannot save this {arch['kind']}: its layers were changed after it was built, so "
            f"its arguments no longer describe it:\n{model}"
        )
    return arch


def module_of(m: nn.Module, where: str) -> dict[str, Any]:
    """A DeepSet's phi or rho as a JSON-able dict of package modules, or a TypeError naming
    the first module that is not one."""
    name = activation_name(m)
    if name is not None:
        return {"kind": name}
    if type(m) is nn.Sequential:
        return {"kind": "Sequential", "layers": [module_of(x, f"{where}.{i}") for i, x in
                                                 enumerate(m)]}  # fmt: skip
    if type(m) is nn.Linear:
        return {"kind": "Linear", "in_features": m.in_features, "out_features": m.out_features,
                "bias": m.bias is not None}  # fmt: skip
    if type(m) is nn.Identity:
        return {"kind": "Identity"}
    if type(m) in RECORDED_MODULES.values():
        arch = {"kind": type(m).__name__, **getattr(m, "arguments", {})}
        with torch.device("meta"):  # built for comparison only: no memory
            same = str(module_from(json.loads(json.dumps(arch)))) == str(m)
        if not same:
            raise TypeError(f"cannot save a DeepSet whose {where} was changed after it was built")
        return arch
    raise TypeError(
        f"cannot save a DeepSet whose {where} is {type(m).__name__}: a file rebuilds phi and "
        f"rho from package modules only ({', '.join(modules())}); save its state_dict and "
        "rebuild the modules in your own code"
    )


def module_from(d: object) -> nn.Module:
    """The module `module_of` described; a ValueError for anything else."""
    if isinstance(d, dict):
        import_kind(d.get("kind"))
    if not isinstance(d, dict) or d.get("kind") not in modules():
        raise ValueError(f"a DeepSet's phi and rho are built of {modules()}, got {d!r:.80}")
    kind, rest = d["kind"], {k: v for k, v in d.items() if k != "kind"}
    try:
        if kind in ACTIVATIONS and not rest:
            return ACTIVATIONS[kind].module()
        if kind == "Sequential" and set(rest) == {"layers"}:
            return nn.Sequential(*(module_from(x) for x in _tuple(rest, "layers")))
        if kind == "Linear" and set(rest) == {"in_features", "out_features", "bias"}:
            if not all(is_int(rest[k]) and rest[k] > 0 for k in ("in_features", "out_features")):
                raise ValueError(f"a Linear's sizes must be positive integers, got {rest}")
            return nn.Linear(rest["in_features"], rest["out_features"], bias=rest["bias"] is True)
        if kind == "Identity" and not rest:
            return nn.Identity()
        if kind in RECORDED_MODULES and set(rest) <= arguments_of(RECORDED_MODULES[kind]):
            return rebuild(RECORDED_MODULES[kind], rest)
    except TypeError as e:
        raise ValueError(f"invalid {kind} {rest}: {e}") from e
    raise ValueError(f"a stored {kind} has other keys: {sorted(rest)}")


def build(arch: dict[str, Any]) -> nn.Module:
    """An untrained model of the architecture `describe` returned; its arguments are checked."""
    rest = {k: v for k, v in arch.items() if k != "kind"}
    if arch["kind"] in MODELS:
        return rebuild(MODELS[arch["kind"]], rest)
    if arch["kind"] == "DeepSet":
        if "phi" in rest:
            phi, rho = module_from(rest["phi"]), module_from(rest["rho"])
            return DeepSet(phi=phi, rho=rho, pooling=rest["pooling"])
        return DeepSet(**widths_of(rest))
    if "sizes" in rest:
        sizes, activations = _tuple(rest, "sizes"), _tuple(rest, "activations")
        return mlp_from_spec(MLPSpec(sizes, activations, rest["sigmoid"]))
    hidden = _tuple(rest, "hidden")  # a file of deepsets 0.1.0: make_mlp(hidden, activation)
    spec = MLPSpec((rest["in_features"], *hidden, 1), (rest["activation"],) * len(hidden))
    return mlp_from_spec(spec)


def _tuple(arch: dict[str, Any], field: str) -> tuple[Any, ...]:
    """The list in `arch[field]`, as a tuple; a ValueError naming the field if it is none."""
    if not isinstance(arch[field], list):
        raise ValueError(f"{field} must be a list, got {arch[field]!r:.80}")
    return tuple(arch[field])


def save_model(model: nn.Module, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `model`'s weights and architecture to `path` (.safetensors), atomically; refuses
    (TypeError, naming the layer) a model `load_model` could not rebuild exactly, and replaces
    an existing regular file only with `overwrite`. A tensor used twice is stored once (ties)."""
    check_flag(overwrite, "overwrite")
    check_placed(model, "model")  # a meta-device model too: shapes without values
    arch, tied = describe(model), ties(model)
    path = check_target(path, overwrite)
    tensors = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
               if k not in tied}  # fmt: skip
    dtypes = {v.dtype for v in tensors.values()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
        raise TypeError(f"can only save a model whose weights share one float dtype, got {dtypes}")
    metadata = {"deepsets": json.dumps(arch), **({TIES: json.dumps(tied)} if tied else {})}
    write_atomic(path, serialize(tensors, metadata=metadata), overwrite=overwrite)
    return path


def ties(model: nn.Module) -> dict[str, str]:
    """Each state_dict entry that is another's tensor (phi is rho, a module used twice): name ->
    the tensor's first name."""
    names = model.state_dict().keys()
    first: dict[int, str] = {}
    named = [*model.named_parameters(remove_duplicate=False),
             *model.named_buffers(remove_duplicate=False)]  # fmt: skip
    return {n: first[id(t)] for n, t in named if n in names and first.setdefault(id(t), n) != n}


def tie(model: nn.Module, tied: dict[str, str], where: str) -> None:
    """Make each name of `tied` (as `ties` returns) hold its first name's tensor, in place."""
    for name, same in tied.items():
        path, _, attr = name.rpartition(".")
        module = model.get_submodule(path)
        get = model.get_parameter if attr in module._parameters else model.get_buffer
        try:
            setattr(module, attr, get(same))
        except AttributeError as e:  # a hostile file: a weight tied to a buffer
            raise ValueError(f"{where}: the stored tie {name} -> {same}: {e}") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at `path` by `save_model`, in eval mode, on `device`, with its
    ties. Weights or buffers that are not finite are refused, as training and export refuse
    them (a ValueError naming the file and the tensor)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or a pathlib.Path, got {type(path).__name__}")
    path = Path(path)
    device = resolve_device(device)
    check_readable(path)
    arch, dtype, tied = read_header(path)
    model = build(arch)
    tie(model, tied, str(path))
    model = model.to(dtype)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    try:
        model.to(device).load_state_dict({**tensors, **{a: tensors[b] for a, b in tied.items()}})
    except RuntimeError as e:
        raise ValueError(f"{path}: the weights do not fit the stored architecture: {e}") from e
    try:
        check_finite_parameters(model, "model")
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return model.eval()


def read_header(path: Path) -> tuple[dict[str, Any], torch.dtype, dict[str, str]]:
    """The stored architecture, weight dtype and ties, checked against the header's shapes
    without reading any weights; a ValueError says what is wrong."""
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
    # A used size is at least one stored number and a layer at least one tensor, so a larger or
    # longer architecture cannot be right: refuse it before building even a shape-only copy. An
    # unused width (the hidden units of a one-layer EquivariantNet) may pass them, up to UNUSED.
    sizes, n_stored = _ints(arch), sum(math.prod(s) for s in shapes.values())
    if max(sizes, default=0) > max(n_stored, UNUSED) or len(sizes) > len(shapes) + 8:
        raise ValueError(
            f"{path}: the weights do not fit the stored architecture: it lists {len(sizes)} "
            f"sizes up to {max(sizes, default=0)}, the file holds {n_stored} numbers in "
            f"{len(shapes)} tensors"
        )
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            expected = {k: tuple(v.shape) for k, v in build(arch).state_dict().items()}
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{path} is damaged or not a deepsets file: its stored architecture is invalid: {e}"
        ) from e
    tied = parse_ties(meta.get(TIES, "{}"), str(path))
    if any(expected.get(a, ()) != shapes.get(b) for a, b in tied.items()):
        raise ValueError(f"{path}: the stored ties {tied} join tensors of other shapes")
    if {k: v for k, v in expected.items() if k not in tied} != shapes:
        raise ValueError(
            f"{path}: the weights do not fit the stored architecture {arch}: "
            f"expected tensors {expected}, the file holds {shapes}"
        )
    return arch, DTYPES[next(iter(dtypes))], tied


def parse_ties(text: str, where: str) -> dict[str, str]:
    """The ties of a file's metadata: a JSON object of tensor names -> stored tensor names."""
    try:
        tied = json.loads(text[:MAX_METADATA_CHARS])
    except ValueError:
        tied = None
    if not isinstance(tied, dict) or not all(isinstance(v, str) for v in tied.values()):
        raise ValueError(f"{where}: the stored ties are not a JSON object of names: {text:.80}")
    return tied


def parse_arch(text: str, where: str) -> dict[str, Any]:
    """The architecture dict of a file's metadata, with its kind and keys checked."""
    if len(text) > MAX_METADATA_CHARS:
        raise ValueError(f"{where}: the stored architecture is {len(text)} characters long")
    too_deep = ValueError(
        f"{where}: the stored architecture nests more than {MAX_METADATA_DEPTH} levels deep"
    )
    try:
        arch = json.loads(text)
    except RecursionError:  # nested deeper than Python's recursion limit
        raise too_deep from None
    except ValueError as e:
        raise ValueError(f"{where}: the stored architecture is not valid JSON ({e})") from e
    if depth(arch) > MAX_METADATA_DEPTH:
        raise too_deep
    if not isinstance(arch, dict) or "kind" not in arch:
        raise ValueError(
            f"{where}: the stored architecture has no 'kind' ('DeepSet' or 'MLP'): {text:.80}"
        )
    kind = arch["kind"]
    if not isinstance(kind, str):
        raise ValueError(f"{where}: the stored field 'kind' must be a string, got {kind!r:.80}")
    keys = set(arch) - {"kind"}
    import_kind(kind)
    if kind in MODELS:
        expected = arguments_of(MODELS[kind])
        if not keys <= expected:
            raise ValueError(
                f"{where}: a stored {kind} takes {sorted(expected)}, got {sorted(keys)}"
            )
        return arch
    if kind not in KEYS:
        raise ValueError(
            f"unknown model kind {kind!r} (expected one of {sorted([*KEYS, *MODELS])}) in {where}"
        )
    if keys not in KEYS[kind]:
        raise ValueError(
            f"{where}: a stored {kind} has the keys {sorted(KEYS[kind][0])}, got {sorted(keys)}"
        )
    return arch


def arguments_of(cls: type[nn.Module]) -> set[str]:
    """The arguments `cls` records (a DeepSet subclass's **kwargs: DeepSet's widths)."""
    names = argument_names(cls)
    if issubclass(cls, DeepSet):
        names |= WIDTHS - {"pooling"}
    return names - {"generator"}


def depth(value: object) -> int:
    """How deeply a parsed JSON value nests (a scalar 0, `[1]` 1); iterative: safe at any depth."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        deepest = max(deepest, d)
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
        todo.extend((c, d + 1) for c in children)
    return deepest


def _ints(value: object) -> list[int]:
    """Every integer in a JSON value (bools excluded)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [i for v in value for i in _ints(v)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []
