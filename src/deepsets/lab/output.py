"""Where a study writes: a new directory, or an earlier run replaced on request, atomically.

Results go to a temporary sibling directory (`.deepsets-partial-XXXXXXXX`, short whatever the
name of `--out`) that is renamed into place only when the study has finished, so an interrupted
run (Ctrl-C, SIGTERM, a full disk) leaves neither a half-written report nor a damaged earlier
one. Every finished run holds a marker (`lab.marker`) with its id and the list of paths it
wrote. `--overwrite` replaces only a directory with a valid marker, and refuses while it holds
anything the run did not write (a user's `notes.txt`): those files are named, never deleted.
A symbolic link to a run stays a link; the directory it points to is what gets replaced.

While a run is staged it holds an exclusive lock (`fcntl.flock`) on a lock file beside its
destination (`.deepsets-lock-XXXXXXXXXXXXXXXX`, removed at the end), so a second run onto the
same `--out` refuses before any work, naming the first one's pid, instead of replacing (or being
replaced by) a finished run; and a run replaces only the run `--out` held when its command
started (`seen_at_start`), never one finished meanwhile by a run started later. A mount point
cannot be renamed over, so an empty one as `--out` is refused before any work too (name a
directory inside it). What a signal does is the command's to say (`deepsets.cli`); the steps
that must not be cut (making the staging directory and the lock, the final renames, the
clean-up) defer SIGINT and SIGTERM to their end.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

from deepsets.files import umask
from deepsets.lab.marker import listing, read_marker, remove_run, run_id, write_marker

PARTIAL_PREFIX = ".deepsets-partial-"  # + 8 random characters: fits any NAME_MAX (255)
OLD_PREFIX = ".deepsets-old-"
LOCK_PREFIX = ".deepsets-lock-"  # + 16 hex digits of the destination's name: fits NAME_MAX
# A quick run writes 1.1 MB (report.html with inlined figures 0.57 MB, PNGs, weights); refuse to
# start with less than 10x that free rather than fail after the training.
MIN_FREE_BYTES = 10 * 2**20
# errno values that mean "this location cannot take the run", whichever file hit them.
LOCATION_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


_COMMITTED: ContextVar[list[Path] | None] = ContextVar("deepsets_committed", default=None)
# (destination, the id of the run it held) when the command started: `seen_at_start`
_SEEN: ContextVar[tuple[Path, str | None] | None] = ContextVar("deepsets_seen", default=None)


@contextlib.contextmanager
def recording_commits() -> Iterator[list[Path]]:
    """The `--out` of every run put in place during the block, in order (so that a signal that
    comes after a run was committed can be answered with where the complete run is)."""
    done: list[Path] = []
    token = _COMMITTED.set(done)
    try:
        yield done
    finally:
        _COMMITTED.reset(token)


@contextlib.contextmanager
def seen_at_start(out: str | Path | None) -> Iterator[None]:
    """For the block (a whole command): a run staged into `out` replaces only the run `out`
    holds now. One finished there meanwhile started after this one and is kept: `staged`
    refuses before any work instead of deleting it."""
    dest = None if out is None else destination(Path(out))
    token = _SEEN.set(None if dest is None else (dest, run_id(dest)))
    try:
        yield
    finally:
        _SEEN.reset(token)


def check_unchanged(out: Path, dest: Path) -> None:
    """FileExistsError if `dest` holds another run than it did when the command started."""
    seen, now = _SEEN.get(), run_id(dest)
    if seen is not None and seen[0] == dest and now is not None and now != seen[1]:
        raise FileExistsError(
            f"{out} holds a run that finished after this run started; that run is kept. Run "
            "again to replace it, or choose another --out. Nothing was written"
        )


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then act as they would have (each once,
    in order of arrival). Main thread only; a signal the process ignores stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    deferred = [s for s, handler in previous.items() if handler is not signal.SIG_IGN]
    for s in deferred:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s in deferred:
            handler = previous[s]
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


class OutputError(OSError):
    """The output location cannot take the run (read-only, full, missing); nothing was written."""


def default_out(root: str | Path = "runs") -> Path:
    """A fresh directory name under `root`: runs/<YYYYmmdd-HHMMSS>[-k]."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    k = 1
    while path.exists():
        path = Path(root) / f"{stamp}-{k}"
        k += 1
    return path


def destination(out: Path) -> Path:
    """The directory that will hold the run: `out`, or what it links to if it is a symlink."""
    if not isinstance(out, str | os.PathLike):
        raise TypeError(f"--out must be a path, got {type(out).__name__}")
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise ValueError(f"--out must name a directory of its own, got {str(out)!r}")
    try:
        return Path(os.path.realpath(out, strict=True))
    except FileNotFoundError:
        return Path(os.path.realpath(out))  # not there yet (or a link to a path not there yet)
    except OSError as e:
        raise ValueError(f"--out {out} cannot be resolved: {e.strerror} (a symlink loop?)") from e


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse, before any work is done, anything but a new, empty or earlier-run directory (and
    that only when asked), and an output location that cannot be written."""
    dest = check_target(out, overwrite)
    check_writable(dest.parent)


def check_target(out: Path, overwrite: bool) -> Path:
    """The directory `out` names, if the run may go there; else FileExistsError or ValueError."""
    dest = destination(out)
    if dest.exists() and not dest.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if dest.is_dir() and os.path.ismount(dest):
        raise FileExistsError(
            f"{out} is a mount point: a finished run is moved into place by a rename, which "
            f"cannot replace a mount point; name a directory inside it (e.g. --out {out}/run)"
        )
    if not dest.is_dir() or not any(dest.iterdir()):
        return dest
    if not overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty; choose another --out or pass --overwrite to replace it"
        )
    extra = listing(dest) - read_marker(dest)
    foreign = sorted(p for p in extra if not any(a in extra for a in _ancestors(p)))
    if foreign:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        shown = ", ".join(foreign[:5]) + more
        raise FileExistsError(
            f"{out} is an earlier run but holds files that run did not write: {shown}. "
            "--overwrite never deletes those: move them elsewhere, or choose another --out"
        )
    return dest


def _ancestors(path: str) -> list[str]:
    """'a/b/c' -> ['a/', 'a/b/']: the directories a listed path lies in."""
    parts = path.rstrip("/").split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def check_writable(parent: Path) -> None:
    """OutputError unless a directory can be made in `parent` (or its nearest existing ancestor)
    and the filesystem there has MIN_FREE_BYTES free. Makes and removes one probe directory."""
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write the run under {parent}: {existing} is not a directory")
    try:
        with signals_deferred():  # made, then removed
            os.rmdir(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=existing))
        free = shutil.disk_usage(existing).free
    except OSError as e:
        raise OutputError(
            f"cannot write the run under {parent}: making a directory in {existing} failed "
            f"({e.strerror or e})"
        ) from e
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"cannot write the run under {parent}: only {free / 2**20:.1f} MB free, a run needs "
            f"about {MIN_FREE_BYTES / 2**20:.0f} MB"
        )


@contextlib.contextmanager
def staged(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary directory beside `out`; on success move it to `out`, else delete it.

    No signal cuts the set-up, the final renames or the clean-up short (`signals_deferred`).
    Errors that mean the location cannot take the run (a full disk, a read-only filesystem, a
    staging folder made unwritable: any error on the run's own paths) become an `OutputError`.
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    check_out(out, overwrite)
    out, dest = Path(out), destination(out)
    with contextlib.ExitStack() as stack:
        made: list[Path] = []
        tmp = None
        try:
            # a signal between making a directory (or the lock file) and noting it here would
            # leave it behind: it is acted on once all of them are noted, for the clean-up
            with signals_deferred():
                made = make_parents(dest.parent)
                stack.enter_context(locked(out, dest))
                check_target(out, overwrite)  # another run may have finished there meanwhile
                check_unchanged(out, dest)
                tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=dest.parent))
                os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; a run follows the umask
            yield tmp
            write_marker(tmp)
            with signals_deferred():
                _commit(tmp, out, dest, overwrite)
                if (committed := _COMMITTED.get()) is not None:
                    committed.append(out)
        except BaseException as e:
            left = None
            if not isinstance(e, ResultsKept):
                with signals_deferred():
                    stack.close()  # the lock file goes first: it lies in the parents made
                    if tmp is not None:
                        left = remove_staging(tmp)
                    for d in made:
                        with contextlib.suppress(OSError):
                            d.rmdir()
            if isinstance(e, OSError) and (e.errno in LOCATION_ERRNOS or _about(e, tmp, dest)):
                where = f" ({e.filename})" if e.filename is not None else ""
                also = f"; remove {left} by hand, it could not be" if left is not None else ""
                raise OutputError(
                    f"cannot write the run into {out}: {e.strerror}{where}; nothing was "
                    f"written{also}"
                ) from e
            raise


def _about(e: OSError, tmp: Path | None, dest: Path) -> bool:
    """Whether `e` is about the run's own paths (in the staging folder `tmp`, or beside `dest`:
    the run, the lock, the replaced run): the location failed, not the study."""
    for f in (e.filename, e.filename2):
        p = Path(os.fsdecode(f)) if isinstance(f, str | bytes) else None
        if p is not None and (p.parent == dest.parent or (tmp and p.is_relative_to(tmp))):
            return True
    return False


def remove_staging(tmp: Path) -> Path | None:
    """Delete the staging folder `tmp` whole, its folders made writable first (a run may have
    lost the right to write in them); `tmp` if it could not be deleted, else None."""
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o700)
    for root, dirs, _ in os.walk(tmp):  # top-down: a folder is made readable before it is read
        for d in dirs:
            if not os.path.islink(path := os.path.join(root, d)):
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp if os.path.lexists(tmp) else None


class RunLocked(FileExistsError):
    """Another run is writing to the same `--out`; this one refused before any work."""


def lock_path(dest: Path) -> Path:
    """The lock file of the run directory `dest`: beside it, named by a hash of its name."""
    digest = hashlib.sha256(dest.name.encode("utf-8", "surrogateescape")).hexdigest()
    return dest.parent / f"{LOCK_PREFIX}{digest[:16]}"


@contextlib.contextmanager
def locked(out: Path, dest: Path) -> Iterator[None]:
    """Hold the exclusive lock of `dest` for the block (the lock file holds this pid), or raise
    RunLocked naming the pid of the run that holds it. The lock file is removed at the end."""
    path = lock_path(dest)
    for _ in range(10):  # a finishing run may remove the file between our open and flock
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666 & ~umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(
                f"{out} is being written by another deepsets run (pid {holder}); wait for it "
                "to finish, or choose another --out. Nothing was written"
            ) from None
        if os.path.lexists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
            break
        os.close(fd)  # we locked a file a finished run had just removed: take the new one
    else:
        raise OSError(errno.EAGAIN, f"cannot lock {path}: it keeps being replaced")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: a run waiting on it retries with a new file
        os.close(fd)


class ResultsKept(FileExistsError):
    """`--out` changed while the run worked; the finished run was kept in `kept_in`."""

    def __init__(self, message: str, kept_in: Path) -> None:
        super().__init__(f"{message}. The finished results were kept in {kept_in}")
        self.kept_in = kept_in


def _commit(tmp: Path, out: Path, dest: Path, overwrite: bool) -> None:
    """Put the finished run `tmp` at `dest`; keep it and raise ResultsKept if `out` changed."""
    try:
        check_target(out, overwrite)  # the directory may have appeared while we worked
    except (FileExistsError, ValueError) as e:
        raise ResultsKept(str(e), tmp) from e
    if not dest.is_dir() or not any(dest.iterdir()):
        try:
            os.rename(tmp, dest)  # onto nothing or an empty directory: atomic
        except OSError as e:  # another run got there first
            raise ResultsKept(f"{out} could not be written: {e.strerror}", tmp) from e
        return
    paths = read_marker(dest)
    old = Path(tempfile.mkdtemp(prefix=OLD_PREFIX, dir=dest.parent))
    os.rename(dest, old / "run")
    try:
        os.rename(tmp, dest)
    except OSError as e:  # another run got there first: put the earlier run back if we can
        with contextlib.suppress(OSError):
            os.rename(old / "run", dest)
        if (old / "run").exists():
            remove_run(old / "run", paths)  # it was to be replaced anyway
        with contextlib.suppress(OSError):
            os.rmdir(old)
        raise ResultsKept(f"{out} could not be replaced: {e.strerror}", tmp) from e
    remove_run(old / "run", paths)
    with contextlib.suppress(OSError):
        os.rmdir(old)


def make_parents(parent: Path) -> list[Path]:
    """mkdir -p `parent`; the directories it made, deepest first, to remove on failure."""
    missing = []
    p = parent
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True, mode=0o777)
    except OSError as e:
        raise OutputError(f"cannot create {parent}: {e.strerror}") from e
    return missing
