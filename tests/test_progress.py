"""Progress where stderr is not a terminal (CI, a log file, `| tee`): a plain line at most every
PLAIN_EVERY seconds, none for a run shorter than that; on the command line, the run's own log
lines on lines of their own."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

from deepsets import DeepSet, train, training
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many

LINE = re.compile(r"^[\w ]+: \d+/\d+ \w+, [\d:]+ elapsed, about [\d:?]+ left$")
TRAIN = re.compile(r"^train( \d+ models)?: \d+/\d+ steps, ")


def logged(run) -> str:
    """What `run()` writes to stderr, a file that is not a terminal (set here: pytest's capture
    sets its own stderr between a fixture and the test)."""
    with contextlib.redirect_stderr(io.StringIO()) as log:
        run()
    return log.getvalue()


def test_a_log_gets_plain_lines_at_most_every_interval(monkeypatch):
    monkeypatch.setattr(training, "PLAIN_EVERY", 0.02)
    engine = Engine(workers=1, progress=True)
    text = logged(lambda: train_many([DeepSet(), DeepSet()], 300, seeds=[0, 1], engine=engine))
    lines = text.splitlines()
    assert "\r" not in text and text.endswith("\n")
    assert lines and all(LINE.match(line) for line in lines), lines
    assert all(line.startswith("train 2 models: ") and TRAIN.match(line) for line in lines)


def test_a_run_shorter_than_the_interval_prints_nothing():
    assert training.PLAIN_EVERY == 10.0
    assert logged(lambda: train(DeepSet(), 20, seed=0, progress=True)) == ""


def test_the_plain_loop_also_prints_lines(monkeypatch):
    monkeypatch.setattr(training, "PLAIN_EVERY", 0.02)
    lines = logged(lambda: train(DeepSet(), 300, seed=0, progress=True)).splitlines()
    assert lines and all(LINE.match(line) and line.startswith("train: ") for line in lines), lines
    assert all(TRAIN.match(line) for line in lines)


def test_a_library_call_stays_quiet_by_default(monkeypatch):
    monkeypatch.setattr(training, "PLAIN_EVERY", 0.0)
    assert logged(lambda: train(DeepSet(), 50, seed=0)) == ""  # None: a bar on a terminal only
    with training.progress_by_default():
        assert logged(lambda: train(DeepSet(), 50, seed=0)).startswith("train: ")
    assert not training.show_progress(None)


def test_the_command_line_shows_progress_in_a_log_and_keeps_log_lines_whole(tmp_path):
    """`deepsets run` with stderr into a pipe, the interval shortened in its process."""
    argv = ["run", "--quick", "--no-extras", "--steps", "300", "--final-window", "20",
            "--workers", "1", "--out", "out"]  # fmt: skip
    code = (
        "import sys; from deepsets import cli, training; training.PLAIN_EVERY = 0.05; "
        f"sys.exit(cli.main({argv!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    steps = [line for line in lines if TRAIN.match(line) and LINE.match(line)]
    logged = [line for line in lines if line.startswith("training ")]
    assert steps and logged, done.stderr
    assert "\r" not in done.stderr
    assert all(LINE.match(line) for line in lines if "elapsed" in line), done.stderr


def test_overlapping_runs_in_two_threads_leave_library_calls_quiet():
    """Two CLI runs in threads whose blocks overlap (a enters, b enters, a leaves, b leaves)."""
    a, b = training.progress_by_default(), training.progress_by_default()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert training.show_progress(None)  # b is still running
    b.__exit__(None, None, None)
    assert not training.show_progress(None)
