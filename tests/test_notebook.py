"""docs/walkthrough.py is a valid jupytext notebook whose cells run, in order, with few steps."""

from __future__ import annotations

import math
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "walkthrough.py"
STEPS = 200


@pytest.fixture(scope="module")
def notebook():
    return jupytext.read(NOTEBOOK)


def code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def run_cells(sources: list[str]) -> dict:
    """exec the cells one after another in one namespace, as a kernel would."""
    namespace: dict = {"__name__": "__main__"}
    for i, source in enumerate(sources):
        exec(compile(source, f"{NOTEBOOK.name}[cell {i}]", "exec"), namespace)
    return namespace


def test_is_a_valid_notebook_with_markdown_and_code(notebook):
    nbformat.validate(notebook)
    kinds = [c.cell_type for c in notebook.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 8 and kinds.count("code") >= 7
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for step in ("Step 1", "Step 2", "Steps 3 and 4", "Step 5", "Step 6", "Step 7a", "Step 7b"):
        assert f"## {step}" in text, step
    assert "3 * (1/3) = 5 * (1/5) = 1" in text, "the explanation of the linear phi"
    assert "`deepsets run`" in text, "the notebook points to the full study"
    assert "plt.show()" not in "\n".join(code_cells(notebook))


def test_steps_default_to_the_exercises_4000(notebook, monkeypatch):
    monkeypatch.delenv("DEEPSETS_NOTEBOOK_STEPS", raising=False)
    assert run_cells(code_cells(notebook)[:1])["STEPS"] == 4000


@pytest.fixture(scope="module")
def executed(notebook, tmp_path_factory):
    """The namespace the notebook leaves behind, run with STEPS steps in an empty directory."""
    workdir = tmp_path_factory.mktemp("notebook")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPSETS_NOTEBOOK_STEPS", str(STEPS))
        mp.chdir(workdir)
        torch.set_num_threads(1)  # tiny models: one thread is fastest on a busy 2-core machine
        try:
            namespace = run_cells(code_cells(notebook))
        finally:
            torch.set_num_threads(threads)
    namespace["workdir"] = workdir
    return namespace


def test_runs_with_the_small_settings_and_writes_no_files(executed):
    assert executed["STEPS"] == STEPS
    assert len(executed["deepset_losses"]) == STEPS and len(executed["mlp_losses"]) == STEPS
    assert all(math.isfinite(v) for v in executed["deepset_losses"])
    assert list(executed["workdir"].iterdir()) == []


def test_parameter_counts_are_62_and_661(executed):
    assert executed["n_deepset"] == 62
    assert executed["n_mlp"] == 10 * 20 + 20 + 20 * 20 + 20 + 20 + 1 == 661


def test_the_deepset_is_invariant_and_the_mlp_is_not(executed):
    change = executed["max_change"]
    assert change["DeepSet"] < 1e-6
    assert change["MLP"] > 1e-4


def test_the_sweep_counts_12w_plus_1_parameters(executed):
    rows = executed["sweep"]
    assert [r["width"] for r in rows] == [4, 8, 16, 32, 64]
    assert all(r["params"] == 12 * r["width"] + 1 for r in rows)
    assert all(0 <= r["accuracy"] <= 1 and r["loss"] > 0 for r in rows)


def test_the_linear_deepset_sees_one_pooled_value_for_every_set(executed):
    pooled, outputs = executed["pooled"], executed["linear_outputs"]
    assert len(pooled) == 10_000
    assert float(pooled.max() - pooled.min()) < 1e-5
    assert executed["spread"] < 1e-6
    # the same output for every set: it is right on exactly one class, half the balanced test set
    y = executed["y_test"][:, 0]
    assert float(((outputs > 0.5).float() == y).float().mean()) == 0.5
