"""Hostile files, executors, output locations and signals (issue 21, classes 7-10): each gets a
clear error before any work, and nothing a user made is overwritten, deleted or left behind."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from deepsets import DeepSet, load_model, make_mlp, save_model
from deepsets.models.set_transformer import SetTransformer

# ---- class 7: weights files ---------------------------------------------------------------


def rewritten(path: Path, arch: object, name: str = "hostile.safetensors") -> Path:
    """A copy of the saved file at `path` whose stored architecture is `arch` (a JSON text)."""
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    out = path.with_name(name)
    save_file(tensors, str(out), metadata={"deepsets": str(arch)})
    return out


def not_a_regular_file(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.safetensors"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(path))
    else:
        return Path("/dev/null")
    return path


@pytest.mark.parametrize(
    "kind, said",
    [
        ("fifo", "a FIFO"),
        ("directory", "a directory"),
        ("socket", "a socket"),
        ("device", "a device file"),
    ],
)
def test_load_model_refuses_what_is_not_a_regular_file_without_reading_it(tmp_path, kind, said):
    path = not_a_regular_file(kind, tmp_path)
    with pytest.raises(ValueError, match=f"{path} is {said}, not a safetensors file"):
        load_model(path)


HEADERS = {
    "deep list": ("[" * 50_000 + "]" * 50_000, "nests more than 32 levels"),
    "deep dict": ('{"a":' * 40 + "1" + "}" * 40, "nests more than 32 levels"),
    "deep layers": (
        '{"kind": "DeepSet", "pooling": "sum", "rho": {}, "phi": ' + "[" * 40 + "]" * 40 + "}",
        "nests more than 32 levels",
    ),
    "kind a list": ('{"kind": ["DeepSet"]}', "'kind' must be a string, got \\['DeepSet'\\]"),
    "kind a dict": ('{"kind": {"DeepSet": 1}}', "'kind' must be a string"),
    "kind a number": ('{"kind": 7}', "'kind' must be a string, got 7"),
    "kind null": ('{"kind": null}', "'kind' must be a string, got None"),
    "null": ("null", "has no 'kind'"),
    "widths as strings": (None, "hidden must be a positive integer, got '5'"),
    "pooling a list": (None, "pooling must be one of"),
}


@pytest.mark.parametrize("case", HEADERS)
def test_a_hostile_header_is_a_clear_value_error_naming_the_field(tmp_path, case):
    text, message = HEADERS[case]
    path = save_model(DeepSet(), tmp_path / "m.safetensors")
    if text is None:
        arch = {**json.loads(safe_open(str(path), "pt").metadata()["deepsets"])}
        arch.update({"hidden": "5"} if "strings" in case else {"pooling": ["sum"]})
        text = json.dumps(arch)
    with pytest.raises(ValueError, match=message):
        load_model(rewritten(path, text))


def test_a_wrong_type_in_any_header_field_of_any_model_is_a_value_error(tmp_path):
    """Every field of several models' headers, replaced by each wrong type: a ValueError or, where
    the value happens to be valid (None for an optional width), a model; nothing else."""
    models = [DeepSet(), make_mlp(), SetTransformer()]
    models.append(DeepSet(phi=nn.Sequential(nn.Linear(1, 4), nn.Tanh()), rho=nn.Linear(4, 1)))
    wrong = ["x", ["x"], {"a": 1}, -1, 1.5, True, None, 2**40, [], [[1]]]
    refused = 0
    for model in models:
        path = save_model(model, tmp_path / "m.safetensors", overwrite=True)
        arch = json.loads(safe_open(str(path), "pt").metadata()["deepsets"])
        for key in arch:
            for value in wrong:
                hostile = rewritten(path, json.dumps({**arch, key: value}))
                try:
                    loaded = load_model(hostile)
                except ValueError as e:
                    refused += 1
                    assert str(hostile) in str(e)
                else:
                    assert isinstance(loaded, nn.Module)
    assert refused > 100


def test_an_unreadable_file_is_reported_as_permission_denied(tmp_path, monkeypatch):
    path = save_model(DeepSet(), tmp_path / "m.safetensors")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate the refusal the kernel gives others
        real = os.open

        def denied(p, *args, **kwargs):
            if Path(p) == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(p))
            return real(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    with pytest.raises(PermissionError, match=f"cannot read {path}: Permission denied"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="cannot read .*nope: No such file"):
        load_model(tmp_path / "nope")


def failing_save(tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A target `save_model` cannot write, as `case` says; the files there before are kept."""
    if case == "a directory":
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "keep.txt").write_text("mine")
        return tmp_path / "d"
    if case == "under /proc":
        return Path("/proc/m.safetensors")
    if case == "/proc itself":
        return Path("/proc")
    errnos = {"read-only": errno.EROFS, "denied": errno.EACCES, "full": errno.ENOSPC}

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errnos[case], os.strerror(errnos[case]))

    monkeypatch.setattr("deepsets.files.os.replace", fail)
    return tmp_path / "m.safetensors"


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("a directory", IsADirectoryError, "it is a directory"),
        ("/proc itself", IsADirectoryError, "it is a directory"),
        ("under /proc", OSError, "cannot save to /proc/m.safetensors: "),
        ("read-only", OSError, "Read-only file system"),
        ("denied", PermissionError, "Permission denied"),
        ("full", OSError, "No space left"),
    ],
)
def test_save_model_where_it_cannot_write_names_the_path_and_leaves_nothing(
    tmp_path, monkeypatch, case, error, message
):
    target = failing_save(tmp_path, case, monkeypatch)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(error, match=message) as caught:
        save_model(DeepSet(), target, overwrite=True)
    assert str(target) in str(caught.value)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("make", [DeepSet, make_mlp, SetTransformer])
def test_a_meta_device_model_is_refused_before_anything_is_written(tmp_path, make):
    with torch.device("meta"):
        model = make()
    with pytest.raises(ValueError, match="on the meta device"):
        save_model(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []
