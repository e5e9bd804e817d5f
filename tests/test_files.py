"""Where the package writes: overwrite replaces a regular file only (never a device, a FIFO, a
socket or a directory), and a place it cannot write is refused before any work, naming it."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from deepsets import DeepSet, save_model
from deepsets.files import check_target


def special(tmp_path, kind: str):
    """A file that is not a regular one: a character device (a copy of /dev/null, as root),
    else a FIFO; a FIFO; a socket."""
    path = tmp_path / kind
    if kind == "device" and os.geteuid() == 0:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    else:
        os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["device", "fifo", "socket"])
@pytest.mark.parametrize("through", ["itself", "a symlink"])
def test_overwrite_never_replaces_what_is_not_a_regular_file(tmp_path, kind, through):
    target = special(tmp_path, kind)
    path = target
    if through == "a symlink":
        path = tmp_path / "link"
        path.symlink_to(target)
    before = os.lstat(target)
    with pytest.raises(FileExistsError, match=rf"{path}: it is a .*not a regular file"):
        save_model(DeepSet(), path, overwrite=True)
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino,
                                                             before.st_rdev)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({kind, path.name})


PLACES = {
    "empty": ("", "path is empty"),
    "a directory": (".", "it is a directory"),
    "a file as its directory": ("f/m.safetensors", "f is a file, not a directory"),
    "a file above it": ("f/g/m.safetensors", "f/g is inside a file"),
    "a missing directory": ("no/m.safetensors", "no does not exist"),
}


@pytest.mark.parametrize("case", PLACES)
def test_a_place_that_cannot_be_written_is_refused_naming_it(tmp_path, case):
    name, message = PLACES[case]
    (tmp_path / "f").write_text("a user's file")
    path = str(tmp_path / name) if name else ""
    error = OSError if name else ValueError
    with pytest.raises(error, match=message) as e:
        check_target(path, overwrite=True)
    assert path in str(e.value)
    with pytest.raises(error, match=message):
        save_model(DeepSet(), path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
    assert (tmp_path / "f").read_text() == "a user's file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_directory_is_refused_naming_it(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=rf"{tmp_path} is not writable"):
            check_target(tmp_path / "m.onnx", overwrite=False)
    finally:
        tmp_path.chmod(0o755)
