"""Where a study writes: a fresh or explicitly replaced directory, filled atomically.

Results go to a temporary sibling directory that is moved into place only when the study has
finished, so an interrupted run (Ctrl-C) leaves neither a half-written report nor a damaged
earlier one. An existing non-empty directory is replaced only when the user asks.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path


def default_out(root: str | Path = "runs") -> Path:
    """A fresh directory name under `root`: runs/<YYYYmmdd-HHMMSS>[-k]."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    k = 1
    while path.exists():
        path = Path(root) / f"{stamp}-{k}"
        k += 1
    return path


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse, before any work is done, to replace anything but an earlier run, and that only
    when asked: a non-empty directory without a metrics.json is never deleted."""
    if out.name in ("", ".", ".."):
        raise ValueError(f"--out must name a directory of its own, got {str(out)!r}")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty; choose another --out or pass --overwrite to replace it"
        )
    if not (out / "metrics.json").is_file():
        raise FileExistsError(
            f"{out} is not empty and holds no metrics.json, so it is not an earlier study's "
            "output; --overwrite only replaces those. Choose another --out"
        )


@contextlib.contextmanager
def staged(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary directory beside `out`; on success move it to `out`, else delete it."""
    check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        check_out(out, overwrite)  # the directory may have appeared while we worked
    except (FileExistsError, ValueError) as e:
        raise FileExistsError(f"{e}. The finished results were kept in {tmp}") from e
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the libraries the results depend on."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("deepsets", "torch", "numpy", "matplotlib", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
