"""The wheel works on its own: built from the source, installed into a fresh virtual environment
without the source tree, both studies run from it and write their reports.

Every other test imports deepsets from src/ (an editable install), so a wheel that forgot a
template would pass them all. The new environment reuses this one's installed packages to stay
fast (a .pth file points at a folder of links to them, deepsets' own excepted), so the only
deepsets it can import is the wheel's. Marked `wheel`: `pytest -m "not wheel"` skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "deepsets"
SOURCE = ("pyproject.toml", "README.md", "LICENSE", "src")  # what building the wheel reads
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
TIMEOUT = 600  # seconds for one step; the whole file takes about a minute (see the changelog)


def package_files() -> set[str]:
    """Every file of the deepsets package in the source tree, as the wheel names it."""
    return {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def source(name: str) -> Path:
    """The one file called `name` in the package's source, wherever it lives."""
    (path,) = PACKAGE.rglob(name)
    return path


def call(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; its stdout, or a failure that shows its stderr."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the source (the build's own files stay out of the checkout)."""
    source = tmp / "source"
    source.mkdir()
    for name in SOURCE:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": SKIP} if name == "src" else {}))
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    # no build isolation: the pinned setuptools of this environment, nothing downloaded
    call(
        *pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp, source, cwd=tmp
    )
    (wheel,) = tmp.glob("deepsets-*.whl")
    return wheel


def fresh_venv(tmp: Path) -> Path:
    """A venv whose site-packages sees this environment's packages, except deepsets."""
    venv = tmp / "venv"
    call(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    site = Path(
        call(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp
        ).strip()
    )
    links = tmp / "packages"
    links.mkdir()
    for folder in dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib")):
        for entry in Path(folder).iterdir():
            if "deepsets" not in entry.name.lower() and not (links / entry.name).exists():
                (links / entry.name).symlink_to(entry)
    (site / "packages-of-the-test-environment.pth").write_text(f"{links}\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the venv, the wheel) with the wheel installed by pip, deps already present."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(tmp)
    venv = fresh_venv(tmp)
    pip = (venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check")
    call(*pip, "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    return venv, wheel


def test_the_wheel_holds_every_file_of_the_package(installed):
    _, wheel = installed
    with zipfile.ZipFile(wheel) as z:
        inside = {n for n in z.namelist() if n.startswith("deepsets/")}
    missing = package_files() - inside
    assert not missing, f"the wheel lacks {sorted(missing)}: add them to package-data"
    assert any(n.endswith(".j2") for n in inside) and any(n.endswith(".css") for n in inside)


def test_the_fresh_venv_imports_deepsets_from_the_wheel_not_from_src(installed, tmp_path):
    venv, _ = installed
    where = call(
        venv / "bin" / "python", "-c", "import deepsets; print(deepsets.__file__)", cwd=tmp_path
    )
    path = Path(where.strip()).resolve()
    assert path.is_relative_to(venv.resolve()) and not path.is_relative_to(ROOT)


@pytest.mark.parametrize(
    ("study", "template"),
    [
        (["--steps", "100", "--final-window", "20"], "report.html.j2"),
        (["digits", "--steps", "10", "--lengths", "5"], "digits.html.j2"),
    ],
    ids=["exercise", "digits"],
)
def test_both_studies_run_from_the_installed_wheel(installed, tmp_path, study, template):
    venv, _ = installed
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = call(
        venv / "bin" / "deepsets", "run", *study, "--quick", "--out", "out", cwd=tmp_path, env=env
    )
    assert "report" in out.lower()
    assert (tmp_path / "out" / "metrics.json").is_file()
    report = (tmp_path / "out" / "report.html").read_text()
    title = next(line for line in source(template).read_text().splitlines() if "<title>" in line)
    assert title in report  # the study's own template
    assert source("report.css").read_text().strip() in report  # and the style sheet
