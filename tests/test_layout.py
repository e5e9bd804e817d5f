"""The package's shape: short functions everywhere, one backward, templates that ship."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "deepsets"
MAX_LINES = 60


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, long


def test_two_places_in_the_package_call_backward():
    """Two training loops: the plain one (training.py) and the stacked engine's (engine/loop.py,
    tested against the plain one); every autograd gradient in the package comes from them."""
    calls = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("backward", "grad")
    ]
    where = sorted(c.split(":")[0] for c in calls)
    assert where == ["src/deepsets/engine/loop.py", "src/deepsets/training.py"], calls


def test_every_template_is_package_data():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["deepsets"]
    files = [p for p in SRC.rglob("*") if p.suffix in (".j2", ".css")]
    templates = sorted(p.relative_to(SRC).as_posix() for p in files)
    shipped = {"studies/exercise/templates/report.html.j2", "lab/templates/report.css"}
    assert shipped <= set(templates)
    for name in templates:
        assert any(fnmatch.fnmatch(name, g) for g in globs), f"{name} is not in package-data"


@pytest.mark.parametrize(
    ("study", "pages"),
    [
        ("exercise", {"report.html.j2", "exercise.html.j2", "extras.html.j2"}),
        ("digits", {"digits.html.j2"}),
        ("theory", {"theory.html.j2"}),
    ],
)
def test_the_report_templates_load_from_the_package(study, pages):
    from deepsets.lab.report import environment

    env = environment(f"deepsets.studies.{study}")
    assert pages | {"macros.html.j2", "report.css"} <= set(env.list_templates())
