"""Faults against a real `deepsets run --quick`: SIGINT and SIGTERM while it works, outputs that
cannot be written, `--overwrite` on what it must not replace. After each: no debris, and every
file that was there before is byte-identical. (staged's own faults, races and symlinks are
tested in-process in test_output.py; these few subprocesses keep the suite fast.)"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from snapshots import debris, fake_run, snapshot

import deepsets.cli
from deepsets.lab.output import PARTIAL_PREFIX

EXE = Path(sys.executable).with_name("deepsets")
CLI = inspect.getsource(deepsets.cli)
# The CLI maps these to `deepsets run: error:`/exit 2 and exit 143; until it does, the exit-code
# checks below are expected failures (the clean-up checks run and must pass either way).
CLI_MAPS_OUTPUT_ERROR = "OutputError" in CLI
CLI_MAPS_TERMINATED = "Terminated" in CLI


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [str(EXE), "run", "--quick", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )


def default_signals() -> None:
    """In the child: Ctrl-C acts as in a terminal even when this suite runs in the background
    (a shell starts background jobs with SIGINT ignored, and a child inherits that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_staging(parent: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Block until the run's staging directory exists (the run has started writing)."""
    deadline = time.monotonic() + timeout
    while not any(p.name.startswith(PARTIAL_PREFIX) for p in parent.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started staging"
        time.sleep(0.02)


def user_files(root: Path) -> Path:
    """A parent directory with a user's files and an earlier run in it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "thesis.tex").write_text("\\chapter{Results}")
    (root / "data").mkdir()
    (root / "data" / "raw.csv").write_bytes(os.urandom(256))
    return fake_run(root / "run", {"report.html": "earlier", "metrics.json": "{}"})


@pytest.mark.parametrize(
    "signum, delay, status",
    [
        (signal.SIGTERM, 0.0, 143),  # as soon as the run starts writing
        (signal.SIGTERM, 1.5, 143),  # in the middle of training
        (signal.SIGINT, 0.5, 130),
    ],
)
def test_a_signal_mid_run_leaves_everything_as_it_was(tmp_path, signum, delay, status):
    run = user_files(tmp_path)
    before = snapshot(tmp_path)
    proc = start(["--out", "run", "--overwrite"], tmp_path)
    try:
        wait_for_staging(tmp_path, proc)
        time.sleep(delay)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert snapshot(tmp_path) == before, stderr  # the earlier run, the user's files: untouched
    assert debris(tmp_path) == [] and run.is_dir()
    if signum == signal.SIGTERM and not CLI_MAPS_TERMINATED:
        pytest.xfail("cli.main does not map signals.Terminated to exit 143 yet")
    assert proc.returncode == status and "Traceback" not in stderr, stderr


def deepsets(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(EXE), "run", "--quick", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_overwrite_refuses_a_foreign_directory_and_an_earlier_run_with_user_files(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "metrics.json").write_text("{}")  # looks like a run, is not one
    (foreign / "thesis.tex").write_text("precious")
    run = user_files(tmp_path / "parent")
    (run / "notes.txt").write_text("added by the user")
    before = snapshot(tmp_path)
    for out, message in ((foreign, "not an earlier study's output"), (run, "notes.txt")):
        done = deepsets(["--out", str(out), "--overwrite"], tmp_path)
        assert done.returncode == 2, done.stderr
        assert f"deepsets run: error: {out}" in done.stderr and message in done.stderr
        assert "Traceback" not in done.stderr
    assert snapshot(tmp_path) == before and debris(tmp_path, tmp_path / "parent") == []


@pytest.mark.skipif(
    not Path("/sys").is_dir(), reason="needs Linux's /sys (unwritable even to root)"
)
def test_an_unwritable_location_is_refused_before_any_training(tmp_path):
    start_time = time.monotonic()
    done = deepsets(["--out", "/sys/deepsets-test-run"], tmp_path)
    assert not Path("/sys/deepsets-test-run").exists()
    assert time.monotonic() - start_time < 30  # refused up front, not after training
    if not CLI_MAPS_OUTPUT_ERROR:
        pytest.xfail("cli.main does not print output.OutputError as an error yet")
    assert done.returncode == 2, done.stderr
    assert "deepsets run: error: cannot write the run under /sys" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused_before_any_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        done = deepsets(["--out", str(ro / "run")], tmp_path)
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []
    if not CLI_MAPS_OUTPUT_ERROR:
        pytest.xfail("cli.main does not print output.OutputError as an error yet")
    assert done.returncode == 2 and "Permission denied" in done.stderr, done.stderr
