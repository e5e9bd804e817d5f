"""Files as users expect: written all or nothing (`write_atomic`, for saved weights and exported
models), with the permissions their umask asks for (`umask`, also for a study's run directory).
(Reading checks the file first: `checks.check_readable`.)"""

from __future__ import annotations

import contextlib
import os
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
