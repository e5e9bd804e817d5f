"""Files as users expect: written all or nothing (`write_atomic`), with the permissions their
umask asks for (`umask`), to a place checked before any work (`check_target`): overwrite
replaces a regular file only, never a directory, a device, a FIFO or a socket."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

KINDS = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
         stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}  # fmt: skip


def umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_target(
    path: object, overwrite: bool, *, name: str = "path", how: str = "pass overwrite=True"
) -> Path:
    """`path` as a Path if a file can be written there: a clear error naming it otherwise (empty;
    it exists and not `overwrite`, `how` says how to allow it; it is not a regular file, even
    through a symlink; its directory is missing, a file, or not writable)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or a pathlib.Path, got {type(path).__name__}")
    if not str(path):
        raise ValueError(f"{name} is empty: name the file to write")
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} exists; {how} to replace it")
    try:
        mode = os.stat(target).st_mode
    except OSError:  # absent (or a dangling link): nothing is replaced
        mode = stat.S_IFREG
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            errno.EISDIR, f"cannot write {target}: it is a directory (name a file in it)"
        )
    kind = next((k for test, k in KINDS.items() if test(mode)), None)
    if kind is not None:
        raise FileExistsError(
            f"cannot write {target}: it is {kind}, not a regular file (overwrite replaces "
            "only regular files)"
        )
    where = f"cannot write {target}: the directory {target.parent}"
    try:
        parent = os.stat(target.parent).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{where} does not exist") from None
    except NotADirectoryError:
        raise NotADirectoryError(errno.ENOTDIR, f"{where} is inside a file") from None
    if not stat.S_ISDIR(parent):
        raise NotADirectoryError(errno.ENOTDIR, f"{where} is a file, not a directory")
    if not os.access(target.parent, os.W_OK):
        raise PermissionError(errno.EACCES, f"{where} is not writable (read-only or not yours)")
    return target


def write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write `data` to `path` through a temporary file in the same directory, renamed at the end.

    A crash or a full disk leaves `path` as it was (no half-written file, no temporary one);
    the file gets mode 0666 minus the umask, like `open(path, "w")`. `path` is checked again
    as `check_target` checks it; a failure to write is an OSError naming it.
    """
    check_target(path, overwrite)
    try:
        _write(path, data, overwrite)
    except FileExistsError:
        raise
    except OSError as e:  # read-only, /proc, a full disk: the same subclass, naming the path
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from e


def _write(path: Path, data: bytes, overwrite: bool) -> None:
    exists = FileExistsError(f"{path} exists; pass overwrite=True to replace it")
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
