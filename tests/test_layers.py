"""The package's layers: no import cycles, and no module imports from a layer above its own.

Every module's imports are read from its source (ast: imports inside functions and under
TYPE_CHECKING count too), resolved to modules of the package, and checked against the FLOORS
below (data -> models -> train -> engine -> weights/export -> lab -> studies -> cli); no study
imports another (each owns its tasks and models). The checks are also run on small hand-made
graphs, so each can be seen to fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deepsets"

# The floors, from the bottom: data -> models -> train -> engine -> weights/export -> lab ->
# studies -> cli. A module may import from its own floor or those below, never from above.
FLOORS = (
    ("checks", "files"),  # the argument checks; atomic writes
    ("data",),  # make_data and the other set generators
    ("models",),  # DeepSet, the MLP, pooling, the equivariant layer, the attention blocks
    ("training",),  # the plain loop: train, evaluate, count_params
    ("engine",),  # the stacked engine: train_many, train_on, workers
    ("invariance", "plots", "weights", "export", "__init__"),  # the rest of the public API
    ("cluster",),  # the Dask seam (--scheduler)
    ("lab",),  # what every study shares
    ("studies",),  # one folder per study, its tasks and models in it
    ("grade",),  # deepsets grade
    ("cli",),
)
LAYERS = {name: i for i, names in enumerate(FLOORS) for name in names}
NAMES = tuple("/".join(names) for names in FLOORS)

Graph = Mapping[str, set[str]]

# Edges left out of the checks while a rework removes them (none now; the engine's rework took
# out engine/remote.py <-> training.py and training.py -> cluster.py). A test fails once one is
# gone, so that it is also taken off this list.
PENDING: set[tuple[str, str]] = set()


def module_name(path: Path, root: Path = SRC) -> str:
    """src/deepsets/lab/output.py -> deepsets.lab.output; a package's __init__ is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules that the module `name` imports anywhere in its source."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y, from .. import z
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            for alias in node.names:  # `from a import b`: the module a.b if there is one, else a
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")} - {name}


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for every module under root/deepsets."""
    paths = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    graph = {}
    for p in paths:
        name = module_name(p, root)
        tree = ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        graph[name] = imported(tree, name, p.name == "__init__.py", modules) & modules
    return graph


def layer(module: str) -> int:
    """The layer of a module: that of its first name below the package (the package: its API
    floor)."""
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS["__init__"]  # deepsets/__init__.py: the public API
    if parts[1] not in LAYERS:
        raise KeyError(f"{module} is in no layer: add {parts[1]!r} to LAYERS in {__file__}")
    return LAYERS[parts[1]]


def upward(graph: Graph) -> list[str]:
    """Every import from a layer above the importing module's, as 'a (lab) -> b (studies)'."""
    return [
        f"{a} ({NAMES[layer(a)]}) -> {b} ({NAMES[layer(b)]})"
        for a in sorted(graph)
        for b in sorted(graph[a])
        if layer(b) > layer(a)
    ]


def study_of(module: str) -> str | None:
    """deepsets.studies.digits.tasks -> "digits"; None outside a study's folder."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "studies" else None


def across_studies(graph: Graph) -> list[str]:
    """Every import from one study's folder into another's, as 'a -> b'."""
    return [
        f"{a} -> {b}"
        for a in sorted(graph)
        for b in sorted(graph[a])
        if study_of(a) and study_of(b) and study_of(a) != study_of(b)
    ]


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def graph_of(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for a, b in edges:
        g.setdefault(a, set()).add(b)
        g.setdefault(b, set())
    return g


# ---------------------------------------------------------------- the package


def checked_graph() -> dict[str, set[str]]:
    """The package's import graph without the PENDING edges."""
    return {a: {b for b in bs if (a, b) not in PENDING} for a, bs in import_graph().items()}


def test_the_pending_edges_are_still_there():
    graph = import_graph()
    gone = sorted(f"{a} -> {b}" for a, b in PENDING if b not in graph.get(a, set()))
    assert gone == [], f"take {gone} off PENDING in {__file__}: the checks now cover them"


def test_the_package_has_no_import_cycles():
    found = cycles(checked_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_module_imports_from_a_layer_above_its_own():
    found = upward(checked_graph())
    assert found == [], "imports from a layer above: " + "; ".join(found)


def test_no_study_imports_another_study():
    found = across_studies(checked_graph())
    assert found == [], "a study imports another's code: " + "; ".join(found)


def test_every_module_is_in_a_layer_and_the_graph_sees_the_known_edges():
    graph = import_graph()
    for module in graph:
        layer(module)  # raises for a module of no layer
    # edges of each kind the parser must find: a top-level import, a function-local import
    # and `from package import module` (TYPE_CHECKING: the test below)
    assert "deepsets.lab.run" in graph["deepsets.studies.exercise.run"]
    assert "deepsets.weights" in graph["deepsets.export"]  # in a function
    assert "deepsets.studies" in graph["deepsets.cli"]
    assert (
        "deepsets.studies.digits" in graph["deepsets.studies"]
    )  # from deepsets.studies import digits


# ---------------------------------------------------------------- the checks can fail


def test_a_cycle_is_found_however_long():
    g = graph_of([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "e2"), ("e2", "e")])
    assert cycles(g) == [["a", "b", "c"], ["e", "e2"]]
    assert cycles(graph_of([("a", "b"), ("b", "c"), ("a", "c")])) == []


def test_an_import_from_a_higher_layer_is_found():
    g = graph_of([
        ("deepsets.training", "deepsets.cluster"),
        ("deepsets.lab.report", "deepsets.cluster"),
        ("deepsets.cluster", "deepsets.studies.theory.run"),
    ])  # fmt: skip
    assert upward(g) == [
        "deepsets.cluster (cluster) -> deepsets.studies.theory.run (studies)",
        "deepsets.training (training) -> deepsets.cluster (cluster)",
    ]


def test_an_import_across_studies_is_found():
    g = graph_of([
        ("deepsets.studies.digits.run", "deepsets.studies.digits.tasks"),
        ("deepsets.studies.theory.run", "deepsets.studies.digits.tasks"),
        ("deepsets.studies", "deepsets.studies.theory"),
    ])  # fmt: skip
    assert across_studies(g) == ["deepsets.studies.theory.run -> deepsets.studies.digits.tasks"]


def test_a_module_of_no_layer_is_refused():
    with pytest.raises(KeyError, match="'newthing'"):
        layer("deepsets.newthing.x")


def test_imports_are_read_from_functions_type_checking_and_relative_forms(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "lab").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text("")
    (pkg / "lab" / "__init__.py").write_text("from . import output\n")
    (pkg / "lab" / "output.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from deepsets.lab import study\n"
        "def f():\n    from .. import data\n    import deepsets.cli\n"
    )
    (pkg / "lab" / "study.py").write_text("from .output import f\n")
    (pkg / "cli.py").write_text("import os\nfrom deepsets.lab.study import *\n")
    g = import_graph(tmp_path)
    assert g["deepsets.lab.output"] == {"deepsets.lab.study", "deepsets.data", "deepsets.cli"}
    assert g["deepsets.lab"] == {"deepsets.lab.output"}
    assert g["deepsets.cli"] == {"deepsets.lab.study"}
    assert cycles(g) == [["deepsets.cli", "deepsets.lab.output", "deepsets.lab.study"]]
    assert upward(g) == ["deepsets.lab.output (lab) -> deepsets.cli (cli)"]
