"""The `deepsets` console script, run once in a subprocess as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from deepsets.cli import build_parser, settings_from_args
from deepsets.study.settings import StudySettings

EXE = Path(sys.executable).with_name("deepsets")


def deepsets(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_run_quick_then_refuse_to_overwrite(tmp_path):
    done = deepsets("run", "--quick", "--out", "tmp", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Report:" in done.stdout and "DeepSet" in done.stdout
    metrics = (tmp_path / "tmp" / "metrics.json").read_text()
    again = deepsets("run", "--quick", "--out", "tmp", cwd=tmp_path)
    assert again.returncode != 0
    assert "--overwrite" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "tmp" / "metrics.json").read_text() == metrics  # first results intact
    assert json.loads(metrics)["settings"]["quick"] is True


def test_bad_flag_gives_usage(tmp_path):
    bad = deepsets("run", "--stepz", "5", cwd=tmp_path)
    assert bad.returncode == 2
    assert "usage: deepsets" in bad.stderr and "--stepz" in bad.stderr


def test_help_documents_every_setting():
    help_text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for f in fields(StudySettings):
        flag = f"--{f.name.replace('_', '-')}"
        assert flag in help_text or f"--no-{f.name.replace('_', '-')}" in help_text, flag


def test_defaults_are_the_exercise():
    s = settings_from_args(build_parser().parse_args(["run"]))
    assert s == StudySettings()
    assert (s.steps, s.batch_size, s.lr, s.hidden, s.seeds) == (4000, 100, 1e-3, 5, 5)


def test_flags_reach_the_settings():
    args = build_parser().parse_args(
        ["run", "--steps", "10", "--sweep-widths", "4", "8", "--no-extras", "--device", "cpu"]
    )
    s = settings_from_args(args)
    assert (s.steps, s.sweep_widths, s.extras, s.device) == (10, (4, 8), False, "cpu")


@pytest.mark.parametrize("argv", [["run", "--device", "tpu"], ["run", "--steps", "many"]])
def test_bad_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    assert "invalid" in capsys.readouterr().err
