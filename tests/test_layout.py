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
    from deepsets.lab.run import environment

    env = environment(f"deepsets.studies.{study}")
    assert pages | {"macros.html.j2", "report.css"} <= set(env.list_templates())


MAX_MODULE_LINES = 400
MAX_PARAMETERS = 8


def test_no_module_is_longer_than_400_lines():
    long = [
        f"{path.relative_to(ROOT)} ({n})"
        for path in sorted(SRC.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, long


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's parameters, self and cls not counted."""
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
    return len([p for p in names if p.arg not in ("self", "cls")])


def test_no_public_function_takes_more_than_8_parameters():
    many = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({parameters(node)})"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (not node.name.startswith("_") or node.name == "__init__")
        and parameters(node) > MAX_PARAMETERS
    ]
    assert not many, many


def test_the_count_of_parameters_sees_every_kind():
    tree = ast.parse("def f(self, a, /, b, *c, d, **e): pass")
    assert parameters(tree.body[0]) == 5  # type: ignore[arg-type]


def deepest_files(call) -> list[str]:
    """The package's files on the deepest call stack while `call()` runs, outermost first."""
    import sys

    deepest: list[str] = []
    src = str(SRC)

    def trace(frame, event, arg):  # called on every Python call; returns no line tracer
        nonlocal deepest
        if not frame.f_code.co_filename.startswith(src):
            return None  # the deepest package frame is one of the package's own calls
        files: list[str] = []
        f = frame
        while f is not None:
            name = f.f_code.co_filename
            if name.startswith(src) and (not files or files[-1] != name):
                files.append(name)
            f = f.f_back
        if len(set(files)) > len(set(deepest)):
            deepest = files[::-1]
        return None

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return [str(Path(p).relative_to(SRC)) for p in dict.fromkeys(deepest)]


def test_the_plain_path_spans_at_most_5_files():
    """train(DeepSet()) is one read: its deepest call stack crosses at most 5 of the package's
    files (data, model, loop, checks)."""
    from deepsets import DeepSet, train

    model = DeepSet()
    files = deepest_files(lambda: train(model, 3, seed=0, progress=False))
    assert 3 <= len(files) <= 5, files
