"""Trained set models out of Python: an ONNX file that onnxruntime (and ONNX tools) can run.

`export_onnx(model, path, max_objects=N)` writes `model.forward(X, mask)` as an ONNX graph with
two inputs, X (batch, objects, F) and mask (batch, objects) (True for real objects), and one
output, y (batch, 1) for a DeepSet (its axes measured on the model: (batch, objects) for an
equivariant one); batch and objects are dynamic. Before anything is written, the file runs in
onnxruntime on random padded sets of 0, 1 and N objects, and must give the torch model's outputs
(to ATOL + RTOL * |output|); a graph that does not is refused, so a written file is a checked one.
`deepsets export WEIGHTS OUT` does the same for a file of `deepsets.save_model`.

The exporter is TorchScript's tracer (`dynamo=False`), chosen by measurement (docs/export.md);
should it go, `trace` is the one function to change. Models it cannot export are refused by
kind before any work: the reason in the model's class (`ONNX_REFUSAL`), or for an MLP, here.

Shape letters: B sets, N objects, F features.
"""

from __future__ import annotations

import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro
from torch import nn
from torch.jit._trace import TracerWarning

from deepsets.checks import (
    as_generator,
    check_finite_parameters,
    check_flag,
    check_memory,
    check_placed,
    positive_int,
)
from deepsets.engine.checks import object_units
from deepsets.files import check_target, write_atomic

OPSET = 17  # the graph's ONNX opset: an older one, for the runtimes and converters users have
ATOL, RTOL = 1e-5, 1e-5  # |onnx - torch| <= ATOL + RTOL * |torch|, as numpy's allclose
INPUTS, OUTPUT = ("X", "mask"), "y"
INSTALL = "ONNX export needs onnx and onnxruntime: pip install 'deepsets[onnx]'"
DEFAULT_MAX_OBJECTS = 100  # the largest sets the studies test (5 to 100 objects)
# Sets of N objects held at once by the check: verify's batch of 7, in torch and onnxruntime.
CHECKED_SETS = 2 * 7
# torch.onnx.export keeps global state (GLOBALS.in_onnx_export): one export at a time per process
TRACING = threading.Lock()

MLP_REFUSAL = (
    "an MLP does not export as a set model: it takes sets of one fixed size as (B, N) "
    "numbers, without a mask"
)


def refusal(model: nn.Module) -> str | None:
    """Why `model` cannot be exported (`compiled`, its class's `ONNX_REFUSAL`, an MLP's), or
    None."""
    if (reason := compiled(model)) is not None:
        return reason
    if isinstance(model, nn.Sequential):
        return MLP_REFUSAL
    reason = getattr(type(model), "ONNX_REFUSAL", None)
    return reason if isinstance(reason, str) else None


def compiled(model: nn.Module) -> str | None:
    """Why `model` cannot be exported if torch.compile compiled it or a part of it, or None:
    it would compile at its first call (half a minute), for the tracer to refuse it then."""
    for part, m in model.named_modules():
        what = f"model.{part}" if part else "model"
        if hasattr(m, "_orig_mod"):  # torch.compile(module): an OptimizedModule
            fix = f"pass {what}._orig_mod, the module it compiles"
        elif getattr(m, "_compiled_call_impl", None) is not None:  # module.compile()
            fix = "pass a copy made before its .compile()"
        elif hasattr(m.__dict__.get("forward"), "_torchdynamo_orig_callable"):
            fix = f"`del {what}.forward` gives it back its own forward"
        else:
            continue
        return f"{what} is compiled by torch.compile, which the tracer refuses: {fix}"
    return None


@dataclass(frozen=True)
class ExportSettings:
    """`deepsets export WEIGHTS OUT`: a model saved by deepsets.save_model as an ONNX file."""

    weights: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="WEIGHTS")]
    """A .safetensors file of deepsets.save_model (`deepsets run` writes them in OUT/weights)."""
    out: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="OUT")]
    """The .onnx file to write; an existing file is refused unless --overwrite."""
    max_objects: int = DEFAULT_MAX_OBJECTS
    """N: the file is checked in onnxruntime against the model on sets of 0, 1 and N objects."""
    overwrite: bool = False
    """Replace OUT if it exists."""


@dataclass(frozen=True)
class SetInput:
    """What X is for a model: int64 tokens (F = 1) or F float features of `dtype`."""

    dtype: torch.dtype
    features: int
    tokens: int
    """The tokens' vocabulary (X holds 0..tokens - 1, as its nn.Embedding reads), or 0: floats."""


@dataclass(frozen=True)
class Exported:
    """A written ONNX file and what it was checked on."""

    path: Path
    max_objects: int
    """N: the largest sets checked in onnxruntime (the objects axis itself is not bounded)."""
    x: SetInput
    y: tuple[str, ...]
    """The output's axes, measured (`output_axes`): ("batch", "1") for a DeepSet."""
    max_difference: float
    """The largest |onnxruntime - torch| over the sets checked."""
    sets_checked: int


def set_input(model: nn.Module, in_features: int | None = None) -> SetInput:
    """X's dtype and F for `model`: tokens if it embeds them (an nn.Embedding, as the digit
    study's text models), else floats, F from `in_features` or from the first of its modules
    that has an integer `in_features` (an encoder of the objects, or phi's first nn.Linear in a
    DeepSet); a ValueError if neither says."""
    embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if embedding is not None:
        return SetInput(torch.int64, 1, embedding.num_embeddings)
    floats = [p.dtype for p in model.parameters() if p.is_floating_point()]
    dtype = floats[0] if floats else torch.get_default_dtype()
    if in_features is not None:
        return SetInput(dtype, positive_int(in_features, "in_features"), 0)
    declared = (getattr(m, "in_features", None) for m in model.modules())
    F = next((f for f in declared if isinstance(f, int) and not isinstance(f, bool)), None)
    if F is None:
        raise ValueError(
            f"cannot tell how many features per object {type(model).__name__} takes: "
            "pass in_features"
        )
    return SetInput(dtype, F, 0)


def random_sets(
    x: SetInput, B: int, N: int, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """B random sets padded to N objects: X (B, N, F) and a mask (B, N) of 0..N real objects,
    scattered (padding is not only at the end)."""
    if x.tokens:
        X = torch.randint(0, x.tokens, (B, N, 1), generator=generator)  # (B, N, 1)
    else:
        X = torch.randn(B, N, x.features, generator=generator, dtype=x.dtype)  # (B, N, F)
    n = torch.randint(0, N + 1, (B, 1), generator=generator)  # (B, 1) real objects per set
    order = torch.rand(B, N, generator=generator).argsort(dim=1)  # (B, N) a random place each
    mask = order < n  # (B, N)
    return X.to(device), mask.to(device)


def check_export(
    model: object, path: object, max_objects: object, overwrite: object
) -> tuple[nn.Module, Path, int]:
    """The arguments of export_onnx checked, before any work: a clear error for each."""
    N = positive_int(max_objects, "max_objects")
    path = check_target(path, check_flag(overwrite, "overwrite"))
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_placed(model, "model")
    reason = refusal(model)
    if reason is not None:
        raise TypeError(f"cannot export {type(model).__name__}: {reason}")
    check_finite_parameters(model, "model")
    return model, path, N


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    max_objects: int = DEFAULT_MAX_OBJECTS,
    in_features: int | None = None,
    overwrite: bool = False,
    seed: int = 0,
) -> Exported:
    """Write `model` (forward(X, mask) -> (B, *O)) to `path` as ONNX, checked in onnxruntime.

    Arguments:
        model: a DeepSet (any pooling), the digit DeepSet, or another module whose forward takes
            X (B, N, F) and a boolean mask (B, N) and whose trace does not depend on N.
        path: the .onnx file; an existing file is refused (FileExistsError) unless `overwrite`.
            It is written whole or not at all (a temporary file, then renamed).
        max_objects: N, the largest sets the file is checked on (and traced with).
        in_features: F, when neither a digit encoder nor a first nn.Linear tells it.
        seed: seeds the random sets of the check.

    Returns the path and the check's largest difference. A model whose graph does not
    reproduce it is a TypeError, and nothing is written.
    """
    model, target, N = check_export(model, path, max_objects, overwrite)
    x = set_input(model, in_features)
    generator = as_generator(seed, name="seed")
    check_fits(model, x, N, f"max_objects={N}")
    onnx, ort = import_onnx()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    training = model.training
    try:
        model.eval()
        y = output_axes(model, x, N, generator, device)
        data = trace(model, *random_sets(x, 2, N, generator, device), y)
        data = describe_file(onnx, data, N, x, y, type(model).__name__)
        difference, checked = verify(model, ort, data, x, N, generator, device)
    finally:
        model.train(training)
    write_atomic(target, data, overwrite=overwrite)
    return Exported(target, N, x, y, difference, checked)


def check_fits(model: nn.Module, x: SetInput, N: int, name: str) -> None:
    """A ValueError naming `name` (max_objects=N, --max-objects N) if the check on sets of N
    objects would not fit in memory: their inputs and every layer's outputs (`object_units`),
    in torch and in onnxruntime. An attention model needs more (N x N weights): a lower bound."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    X, _ = random_sets(x, 1, 2, torch.Generator().manual_seed(0), device)  # (1, 2, F)
    per_object = (x.features + object_units(model, X)) * max(x.dtype.itemsize, 4)
    check_memory(CHECKED_SETS * N * per_object, name)


def output_axes(
    model: nn.Module, x: SetInput, N: int, generator: torch.Generator, device: torch.device
) -> tuple[str, ...]:
    """The axes of model(X, mask), measured on 2 sets of N objects and 3 of N + 1: "batch",
    then "objects" where the size follows the sets' (an equivariant model), else the size."""
    shapes = []
    for B, n in ((2, N), (3, N + 1)):
        X, mask = random_sets(x, B, n, generator, device)
        try:
            with torch.no_grad():
                shapes.append(tuple(model(X, mask).shape))  # (B, *O)
        except (TypeError, ValueError, RuntimeError) as e:  # a model says so in its own words
            raise TypeError(
                f"cannot export {type(model).__name__}: its forward(X, mask) failed on X of "
                f"shape {tuple(X.shape)} ({X.dtype}) and a mask {tuple(mask.shape)}: {e}"
            ) from e
    (a, b), axes = shapes, ["batch"]
    if len(a) != len(b) or a[:1] != (2,) or b[:1] != (3,):
        raise TypeError(f"cannot export {type(model).__name__}: its output {a} has no batch axis")
    for p, q in zip(a[1:], b[1:], strict=True):
        if p != q and (p, q) != (N, N + 1):
            raise TypeError(f"cannot export {type(model).__name__}: its outputs {a}, {b}")
        axes.append("objects" if p != q else str(p))
    return tuple(axes)


def import_onnx() -> tuple[Any, Any]:
    """The onnx and onnxruntime modules, or an ImportError saying how to install them."""
    try:
        import onnx
        import onnxruntime  # type: ignore[import-untyped, unused-ignore]
    except ImportError as e:
        raise ImportError(f"{INSTALL} ({e})") from e
    return onnx, onnxruntime


def trace(model: nn.Module, X: torch.Tensor, mask: torch.Tensor, y: tuple[str, ...]) -> bytes:
    """The ONNX bytes of model(X, mask) traced by TorchScript, batch and objects dynamic (in y's
    axes too, as `output_axes` measured them).

    The tracer's warnings (the model's Python checks are not in the graph) and its deprecation
    notice are silenced: `verify` measures what matters, the graph against the model.
    """
    axes = {"X": {0: "batch", 1: "objects"}, "mask": {0: "batch", 1: "objects"}}
    with (
        TRACING,
        tempfile.TemporaryDirectory(prefix="deepsets-onnx-") as folder,
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", category=TracerWarning)
        for notice in ("You are using the legacy TorchScript", "The feature will be removed"):
            warnings.filterwarnings("ignore", notice, DeprecationWarning)
        file = Path(folder) / "model.onnx"
        try:
            torch.onnx.export(
                model,
                (X, mask),
                file,
                dynamo=False,
                opset_version=OPSET,
                input_names=list(INPUTS),
                output_names=[OUTPUT],
                dynamic_axes={**axes, OUTPUT: {i: a for i, a in enumerate(y) if not a.isdigit()}},
            )
        except (torch.onnx.errors.OnnxExporterError, RuntimeError) as e:
            raise TypeError(f"cannot export {type(model).__name__}: {e}") from e
        return file.read_bytes()


def describe_file(
    onnx: Any, data: bytes, N: int, x: SetInput, y: tuple[str, ...], name: str
) -> bytes:
    """The ONNX bytes with a doc string and metadata saying what the inputs are; a TypeError if
    the graph lacks one (model `name` ignores it)."""
    from importlib import metadata

    release = metadata.version("deepsets")  # the package imports this module: no cycle back

    proto = onnx.load_from_string(data)
    inputs = tuple(i.name for i in proto.graph.input)
    if inputs != INPUTS:  # the tracer drops an input that no output depends on
        missing = " and ".join(repr(n) for n in INPUTS if n not in inputs)
        raise TypeError(
            f"cannot export {name}: its output does not read the {missing} input (a set model "
            "must read X and exclude padding by the mask)"
        )
    floats = f"{x.features} {str(x.dtype)[6:]} features"
    what = f"int64 tokens (0..{x.tokens - 1})" if x.tokens else floats
    proto.doc_string = (
        f"deepsets {release}: X (batch, objects, {x.features}) of {what} per object, "
        f"mask (batch, objects) bool, True for real objects -> y ({', '.join(y)}); "
        f"checked against torch on sets of 0 to {N} objects"
    )
    for key, value in {"deepsets_version": release, "max_objects": str(N)}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return bytes(proto.SerializeToString())


def session(ort: Any, data: bytes) -> Any:
    """An onnxruntime InferenceSession of `data` on the CPU, quiet (its failures are raised)."""
    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: errors reach us as exceptions, not also printed
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def verify(
    model: nn.Module,
    ort: Any,
    data: bytes,
    x: SetInput,
    N: int,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[float, int]:
    """The largest |onnxruntime - torch| on random padded sets of 0, 1 and N objects (in
    batches of 1 and 7), and how many sets; a TypeError if onnxruntime fails or differs."""
    name = type(model).__name__
    try:
        run = session(ort, data).run
    except Exception as e:  # onnxruntime's errors derive from Exception only
        raise TypeError(f"cannot export {name}: onnxruntime cannot load its graph: {e}") from e
    worst, count = 0.0, 0
    for n in sorted({0, 1, N}):
        for B in (1, 7):
            X, mask = random_sets(x, B, n, generator, device)
            with torch.no_grad():
                expected = model(X, mask).cpu().numpy()  # (B, *O)
            try:
                got = run([OUTPUT], {"X": X.cpu().numpy(), "mask": mask.cpu().numpy()})[0]
            except Exception as e:  # onnxruntime's errors derive from Exception only
                raise TypeError(
                    f"cannot export {name}: its traced graph fails in onnxruntime on {B} sets "
                    f"of {n} objects (the trace fixed something the model computes from the "
                    f"input): {e}"
                ) from e
            difference = abs(got.astype(expected.dtype) - expected)  # (B, *O)
            if got.shape != expected.shape or (difference > ATOL + RTOL * abs(expected)).any():
                raise TypeError(
                    f"cannot export {name}: its traced graph gives other outputs than the model "
                    f"on {B} sets of {n} objects (largest difference "
                    f"{float(difference.max()):.3g}): the trace fixed something the model "
                    "computes from the input"
                )
            worst, count = max(worst, float(difference.max(initial=0.0))), count + B
    return worst, count


def export_file(settings: ExportSettings) -> Exported:
    """Load the model of `settings.weights` and export it (the work of `deepsets export`).

    --max-objects and OUT (free, or --overwrite) are checked first, named as the command
    spells them, then WEIGHTS as `load_model` checks a file: errors before any work."""
    from deepsets.weights import load_model

    N = positive_int(settings.max_objects, "--max-objects")
    check_target(settings.out, settings.overwrite, name="OUT", how="pass --overwrite")
    model = load_model(settings.weights)
    check_fits(model, set_input(model), N, f"--max-objects {N}")
    return export_onnx(
        model, settings.out, max_objects=settings.max_objects, overwrite=settings.overwrite
    )
