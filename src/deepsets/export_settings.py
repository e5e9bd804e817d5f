"""The settings of `deepsets export WEIGHTS OUT` and their checks, without torch: a wrong path
or flag is refused before the exporter (torch, onnx) loads (`deepsets.export` does the work)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from deepsets.files import check_readable
from deepsets.values import positive_int

DEFAULT_MAX_OBJECTS = 100  # the largest sets the studies test (5 to 100 objects)


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


def check_export_settings(settings: ExportSettings) -> None:
    """--max-objects a positive integer, OUT free (or --overwrite), WEIGHTS a readable regular
    file; else a ValueError (FileExistsError for OUT) naming it, before any work."""
    positive_int(settings.max_objects, "--max-objects")
    if not settings.overwrite and os.path.lexists(settings.out):
        raise FileExistsError(f"{settings.out} exists; pass --overwrite to replace it")
    check_readable(Path(settings.weights))
