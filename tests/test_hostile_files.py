"""Hostile files, executors, output locations and signals (issue 21, classes 7-10): each gets a
clear error before any work, and nothing a user made is overwritten, deleted or left behind."""

from __future__ import annotations

import copy
import dataclasses
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from snapshots import debris, fake_run
from torch import nn

import deepsets.cli as cli
import deepsets.engine.remote as remote
from deepsets import DeepSet, load_model, make_mlp, save_model, train_many
from deepsets.cluster import session
from deepsets.engine.remote import ExecutorFailed
from deepsets.engine.settings import Engine
from deepsets.lab import output
from deepsets.lab.output import PARTIAL_PREFIX, read_marker, staged
from deepsets.studies.digits.models import SetTransformer

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
    message = f"{path} is not a readable safetensors file: it is {said}, not a regular file"
    with pytest.raises(ValueError, match=message):
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
    denied = f"{path} is not a readable safetensors file: Permission denied"
    with pytest.raises(ValueError, match=denied):
        load_model(path)
    with pytest.raises(ValueError, match="nope is not a readable safetensors file: No such file"):
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
        ("under /proc", OSError, "cannot write /proc/m.safetensors: "),
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
    with pytest.raises(ValueError, match="meta device"):  # save_model's or device.check_placed's
        save_model(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# ---- class 8: executors -------------------------------------------------------------------


class Never(Executor):
    """Futures that never finish (a cluster without workers, a stuck pool)."""

    def submit(self, fn, /, *args, **kwargs):
        return Future()


class Returns(Executor):
    """Futures that finish at once with `value(real result)` in place of the task's result."""

    def __init__(self, value):
        self.value = value

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        if self.value == "cancelled":  # as a pool does with a task cancelled before it ran
            future.cancel()
            future.set_running_or_notify_cancel()
        else:
            future.set_result(self.value(fn(*args, **kwargs)))
        return future


class NotAFuture(Executor):
    def submit(self, fn, /, *args, **kwargs):
        return fn(*args, **kwargs)


BAD_EXECUTORS = {
    "never finishes": (Never(), "finished none of its 2 remaining task"),
    "returns None": (Returns(lambda r: None), "returned NoneType None, not the results"),
    "returns a dict": (Returns(lambda r: {"weights": r.weights}), "returned dict"),
    "returns too few": (
        Returns(lambda r: dataclasses.replace(r, weights=r.weights[:0])),
        "not the results of its 1 model",
    ),
    "returns other losses": (
        Returns(lambda r: dataclasses.replace(r, losses=r.losses[:, :2])),
        "not the results of its 1 model",
    ),
    "cancels": (Returns("cancelled"), "cancelled a task"),
    "submit returns no Future": (NotAFuture(), "submit returned Trained, not a"),
}


@pytest.mark.parametrize("case", BAD_EXECUTORS)
def test_a_faulty_executor_is_a_clear_error_naming_it_and_no_model_changes(monkeypatch, case):
    monkeypatch.setattr(remote, "TIMEOUT_SECONDS", 0.3)
    executor, message = BAD_EXECUTORS[case]
    models = [DeepSet(hidden=5, generator=0), DeepSet(hidden=6, generator=1)]  # two stacks
    before = [copy.deepcopy(m.state_dict()) for m in models]
    with pytest.raises(ExecutorFailed, match=message) as caught:
        train_many(models, 5, seeds=[0, 1], engine=Engine(executor=executor))
    assert type(executor).__name__ in str(caught.value)
    for b, m in zip(before, models, strict=True):
        assert all(torch.equal(v, m.state_dict()[k]) for k, v in b.items())


class Slow(Executor):
    """Runs each task in this thread; the i-th result arrives after delays[i] s and says it
    trained for `seconds`."""

    def __init__(self, delays, seconds):
        self.delays, self.seconds, self.pool = list(delays), seconds, ThreadPoolExecutor(2)

    def submit(self, fn, /, *args, **kwargs):
        delay = self.delays.pop(0)

        def late():
            time.sleep(delay)
            return dataclasses.replace(fn(*args, **kwargs), seconds=self.seconds)

        return self.pool.submit(late)


@pytest.mark.parametrize("seconds, fails", [(0.01, True), (0.5, False)])
def test_the_wait_for_a_task_grows_with_the_slowest_task_so_far(monkeypatch, seconds, fails):
    """TIMEOUT_SECONDS 0.3, the second task 1 s after the first: a stall after a 0.01 s task, but
    not after a 0.5 s one (10 x 0.5 s = 5 s of patience)."""
    monkeypatch.setattr(remote, "TIMEOUT_SECONDS", 0.3)
    models = [DeepSet(hidden=5, generator=0), DeepSet(hidden=6, generator=1)]
    executor = Slow([0.0, 1.0], seconds)
    try:
        if fails:
            with pytest.raises(ExecutorFailed, match="none of its 1 remaining task.* within 0.3 s"):
                train_many(models, 5, seeds=[0, 1], engine=Engine(executor=executor))
        else:
            train_many(models, 5, seeds=[0, 1], engine=Engine(executor=executor))
    finally:
        executor.pool.shutdown(wait=True)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_thread_pool_neither_advances_the_callers_generators_nor_changes_a_number(workers):
    """Generators shared by models of different stacks: each task draws from its own copy, as in
    a process pool, so the caller's state is kept and the numbers are those of the integer seeds
    the generators were seeded with (the reference: the same models trained in this process)."""
    g = [torch.Generator().manual_seed(7), torch.Generator().manual_seed(8)]
    states = [x.get_state().clone() for x in g]

    def run(seeds, executor):
        models = [DeepSet(hidden=h, generator=h) for h in (3, 4, 5)]
        return train_many(models, 20, seeds=seeds, engine=Engine(executor=executor))[1]

    reference = run([7, 8, 7], None)
    with ThreadPoolExecutor(workers) as pool:
        losses = run([g[0], g[1], g[0]], pool)
    assert all(torch.equal(s, x.get_state()) for s, x in zip(states, g, strict=True))
    np.testing.assert_array_equal(losses, reference)


# ---- class 9: output directories ----------------------------------------------------------

EXE = Path(sys.executable).with_name("deepsets")


def deepsets_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(EXE), "run", "--quick", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_second_run_onto_an_out_being_written_refuses_naming_the_first(tmp_path, overwrite):
    """This process stages a run into `run`; `deepsets run` onto the same `--out` (an earlier run
    with --overwrite, or a new directory without) refuses before any work, naming our pid."""
    out = fake_run(tmp_path / "run", {"report.html": "earlier"}) if overwrite else tmp_path / "run"
    with staged(out, overwrite) as tmp:
        (tmp / "report.html").write_text("first")
        done = deepsets_run(["--out", "run", *(["--overwrite"] if overwrite else [])], tmp_path)
        assert done.returncode == 2, done.stderr
        assert f"another deepsets run (pid {os.getpid()})" in done.stderr
        assert "Traceback" not in done.stderr and "training" not in done.stdout
    assert (out / "report.html").read_text() == "first" and read_marker(out)
    assert debris(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.fixture
def mount_point(tmp_path, monkeypatch):
    """An empty mount point: a real tmpfs where this process may mount one, else a directory
    that os.path.ismount reports as one (a mount point cannot be renamed over either way)."""
    point = tmp_path / "mnt"
    point.mkdir()
    mounted = shutil.which("mount") is not None and os.geteuid() == 0
    mounted = mounted and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "none", str(point)], capture_output=True
    ).returncode == 0  # fmt: skip
    if not mounted:
        real = os.path.ismount
        monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == point or real(p))
    yield point
    if mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_an_empty_mount_point_as_out_is_refused_before_any_work(mount_point, tmp_path):
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="is a mount point.*inside it"):
            with staged(mount_point, overwrite):
                pytest.fail("the run started working")
    assert list(mount_point.iterdir()) == [] and debris(tmp_path) == []
    with staged(mount_point / "run", False) as tmp:  # a directory inside it works
        (tmp / "report.html").write_text("ok")
    assert (mount_point / "run" / "report.html").read_text() == "ok"


# ---- class 10: signals and the cluster ----------------------------------------------------

SMALL = ["--no-extras", "--steps", "100", "--final-window", "20"]  # with --quick: seconds


def started(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    """`deepsets ARGS` in its own process group (as a terminal's job), Ctrl-C as in a terminal."""
    return subprocess.Popen(
        [str(EXE), *args], cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore", **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def loading_torch(pid: int) -> bool:
    """Whether process `pid` has mapped libtorch: it is inside `import torch` (or past it)."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("args", [["run", "--quick", "--out", "r"], ["export", "w", "o"]])
def test_ctrl_c_while_the_command_loads_writes_nothing(tmp_path, args):
    """Ctrl-C while torch loads ends the command before it starts (Python's traceback of the
    interrupted import may show): nothing is written."""
    made = [tmp_path / "w"] if args[0] == "export" else []
    for f in made:
        f.write_bytes(b"not read before the interrupt")
    proc = started(args, tmp_path)
    deadline = time.monotonic() + 60
    while not loading_torch(proc.pid):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: to the whole job
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == made


def test_ctrl_c_on_a_local_cluster_run_is_one_line_and_leaves_nothing(tmp_path):
    """Ctrl-C reaches the run and its Dask workers (one process group): one line, no traceback
    from any process, no output, no worker left and nothing in $TMPDIR (dask-scratch-space)."""
    (tmp_path / "tmp").mkdir()
    args = ["run", "--quick", *SMALL, "--out", "run", "--scheduler", "local:2"]
    proc = started(args, tmp_path, TMPDIR=str(tmp_path / "tmp"))
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(PARTIAL_PREFIX) for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are training
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()  # the run's own log lines ("training ...") go to stderr
    assert lines[-1] == "deepsets run: interrupted; nothing was written", err
    assert not any(w in err for w in ("Traceback", "Error", "WARNING", "Exception")), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    deadline = time.monotonic() + 20  # multiprocessing's resource tracker exits on its own
    while subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).stdout:
        assert time.monotonic() < deadline, "worker processes were left running"
        time.sleep(0.2)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_local_cluster_leaves_no_scratch_space(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with session("local:1") as groups:
        assert groups is not None and groups.workers == 1
        scratch = [p for p in tmp_path.iterdir()]
        assert [p.name[:14] for p in scratch] == ["deepsets-dask-"]  # the run's own, in use
    assert list(tmp_path.iterdir()) == []


def finished_then(signum: int, when: str, out: Path):
    """A study run that writes a run to `out` and is then hit by `signum`: while the finished
    run is renamed into place (held back until it is), or after its directory is closed."""

    def run(settings: object) -> None:
        with staged(out, False) as tmp:
            (tmp / "report.html").write_text("complete")
            if when == "during the commit":
                real = output._commit

                def commit(*args: object) -> None:
                    signal.raise_signal(signum)  # held: delivered once the renames are done
                    real(*args)

                output._commit = commit  # restored by the monkeypatch of the test below
        if when == "after":
            signal.raise_signal(signum)

    return run


@pytest.mark.parametrize("when", ["during the commit", "after"])
@pytest.mark.parametrize(
    "signum, status, said",
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated by SIGTERM")],
)
def test_a_signal_after_the_run_was_written_says_where_it_is(
    tmp_path, monkeypatch, capsys, signum, status, said, when
):
    out = tmp_path / "run"
    monkeypatch.setattr(output, "_commit", output._commit)
    study = replace(cli.STUDIES["exercise"], run=finished_then(signum, when, out))
    monkeypatch.setitem(cli.STUDIES, "exercise", study)
    assert cli.main(["run"]) == status
    err = capsys.readouterr().err
    assert err == f"deepsets run: {said}; the run had been written and is complete in {out}\n"
    assert (out / "report.html").read_text() == "complete" and read_marker(out)
    assert debris(tmp_path) == []


def test_a_signal_before_the_run_was_written_says_nothing_was(tmp_path, monkeypatch, capsys):
    def run(settings: object) -> None:
        with staged(tmp_path / "run", False) as tmp:
            (tmp / "report.html").write_text("half")
            raise KeyboardInterrupt

    monkeypatch.setitem(cli.STUDIES, "exercise", replace(cli.STUDIES["exercise"], run=run))
    assert cli.main(["run"]) == 130
    assert capsys.readouterr().err == "deepsets run: interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []


def every_kind() -> dict[str, nn.Module]:
    """A model of every kind a file holds: the core's and each study's."""
    from deepsets.studies.digits.models import RecurrentSum, digit_deepset, image_deepset
    from deepsets.studies.popstats.models import PopStatsDeepSet
    from deepsets.studies.theory.models import EquivariantNet, PerElementNet, SmoothMaxDeepSet

    user = DeepSet(phi=nn.Sequential(nn.Linear(1, 4), nn.Tanh()), rho=nn.Linear(4, 1))
    return {
        "DeepSet": DeepSet(), "MLP": make_mlp(), "SetTransformer": SetTransformer(),
        "RecurrentSum lstm": RecurrentSum(cell="lstm"),
        "RecurrentSum gru": RecurrentSum(cell="gru"),
        "digit DeepSet": digit_deepset(), "image DeepSet": image_deepset(0), "user DeepSet": user,
        "SmoothMaxDeepSet": SmoothMaxDeepSet(), "PerElementNet": PerElementNet(),
        "EquivariantNet": EquivariantNet(), "PopStatsDeepSet": PopStatsDeepSet(3),
    }  # fmt: skip


WRONG = ["x", ["x"], {"a": 1}, -1, 1.5, True, None, 2**40, [], [[1]]]
RAW = r"unhashable|object of type|not supported between|argument must|has no attribute|object is"


@pytest.mark.parametrize("kind", list(every_kind()))
def test_a_field_of_the_wrong_type_is_a_damaged_file_error_naming_the_field(tmp_path, kind):
    """Every top-level field of every kind, replaced by each wrong type: a ValueError naming the
    file and the field (or saying the weights do not fit), never Python's words for a type
    error; or, where the value is valid for the field (None for an optional width), a model."""
    path = save_model(every_kind()[kind], tmp_path / "m.safetensors")
    arch = json.loads(safe_open(str(path), "pt").metadata()["deepsets"])
    for key in arch:
        for value in WRONG:
            hostile = rewritten(path, json.dumps({**arch, key: value}))
            try:
                loaded = load_model(hostile)
            except ValueError as e:
                said = str(e).replace(str(hostile), "")
                assert str(hostile) in str(e) and not re.search(RAW, said), (key, value, said)
                named = key in said or key.replace("_", ".") in said
                assert named or "do not fit the stored" in said, (key, value, said)
            else:
                assert isinstance(loaded, nn.Module) and key != "cell", (key, value)
