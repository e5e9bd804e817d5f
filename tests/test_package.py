"""The habits of an installable package: LICENSE, CHANGELOG and the Makefile's install command."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import deepsets

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pyproject(key: str) -> str:
    return re.search(rf"^{key} = (.+)$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_license_file_is_the_license_pyproject_declares():
    assert pyproject("license") == '{ text = "MIT" }'
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the deepsets authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_changelog_has_unreleased_and_the_current_version():
    version = pyproject("version").strip('"')
    assert version == deepsets.__version__
    headings = re.findall(r"^## \[(.+?)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[:2] == ["Unreleased", version]


def pip_install_line(tmp_path: Path, *make_args: str) -> str:
    """The pip command `make` would run to create a fresh venv (make -n: nothing is run)."""
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), f"VENV={venv}", f"{venv}/bin/.installed", *make_args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not venv.exists()
    return next(line for line in done.stdout.splitlines() if "pip install" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_torch_index_is_one_make_variable_empty_by_default(tmp_path):
    default = pip_install_line(tmp_path)
    assert default.split()[-4:] == ["-c", "constraints.txt", "-e", "'.[test,cluster,docs,onnx]'"]
    assert "index-url" not in default
    cpu = pip_install_line(tmp_path, f"TORCH_INDEX={CPU_INDEX}")
    assert cpu.split() == [*default.split(), "--extra-index-url", CPU_INDEX]
