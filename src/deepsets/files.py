"""Files as users expect: written all or nothing, with the permissions their umask asks for, and
read only when they are regular files (a FIFO is never opened). No torch: the command line's
checks use it before the libraries load."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `path` through a temporary file in the same directory, renamed at the end.

    A crash or a full disk leaves `path` as it was (no half-written file, no temporary one);
    the file gets mode 0666 minus the umask, like `open(path, "w")`. Without `overwrite`, an
    existing `path` is a FileExistsError.
    """
    exists = FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not overwrite and os.path.lexists(path):
        raise exists
    fd, tmp = tempfile.mkstemp(prefix=".deepsets-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # fails if `path` appeared meanwhile: never replaces it
        except FileExistsError:
            raise exists from None
        except OSError:  # a filesystem without hard links: check, then rename
            if os.path.lexists(path):
                raise exists from None
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_readable(path: Path) -> None:
    """A ValueError naming `path` and the true cause (missing, permission denied, a FIFO, a
    directory, a socket or a device) unless it is a regular file this process can open; what is
    not a regular file is never opened (opening a FIFO would wait for a writer)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            os.close(os.open(path, os.O_RDONLY))  # a regular file: opens at once, or EACCES
    except OSError as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e.strerror or e}") from e
    if not stat.S_ISREG(mode):
        kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}
        kind = next((k for test, k in kinds.items() if test(mode)), "a device file")
        raise ValueError(
            f"{path} is not a readable safetensors file: it is {kind}, not a regular file"
        )
