"""docs/walkthrough.ipynb and docs/walkthrough.py are one notebook (paired with jupytext, outputs
stripped), and its cells run, in order, with few steps."""

from __future__ import annotations

import math
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOK = DOCS / "walkthrough.ipynb"  # what students open; executed below
SCRIPT = DOCS / "walkthrough.py"  # its jupytext pair, the one to edit and review
STEPS = 200


@pytest.fixture(scope="module")
def notebook():
    return jupytext.read(NOTEBOOK)


def cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def test_the_ipynb_and_the_py_are_the_same_notebook(notebook):
    script = jupytext.read(SCRIPT)
    assert cells(notebook) == cells(script), "run `jupytext --sync docs/walkthrough.py`"
    formats = {nb.metadata["jupytext"]["formats"] for nb in (notebook, script)}
    assert formats == {"ipynb,py:percent"}  # paired both ways


def test_the_comparison_sees_a_drift(notebook):
    script = jupytext.read(SCRIPT)
    script.cells[3].source += "\nprint('edited in one file only')"
    assert cells(notebook) != cells(script)


def test_the_ipynb_is_stored_without_outputs():
    raw = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in raw.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


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
    steps = ("Step 1", "Step 2", "Steps 3 and 4", "Step 5", "Step 6", "Step 7a", "Step 7b")
    for step in (*steps, "Step 8"):
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
    assert len(pooled) == 372
    assert float(pooled.max() - pooled.min()) < 1e-5
    assert executed["spread"] < 1e-6
    # the same output for every set: it is right on exactly one class, 120 or 252 of the 372
    y = executed["y_all"][:, 0]
    assert int(((outputs > 0.5).float() == y).sum()) in (120, 252)


def test_step_8_scores_only_unseen_arrangements(executed):
    unseen, train_idx = executed["unseen"], executed["train_idx"]
    M = executed["M"]
    assert int(unseen.sum()) == 372 - 2 * M and not bool(unseen[train_idx].any())
    assert executed["y_all"][train_idx, 0].tolist().count(0.0) == M  # M of each class
    acc = executed["unseen_accuracy"]
    # the DeepSet gives every arrangement of a class one output: all of a class right or none
    right = 372 - 2 * M
    assert min(abs(acc["DeepSet"] * right - n) for n in (0, 120 - M, 252 - M, right)) < 1e-3
    assert 0 <= acc["MLP"] <= 1


# ------------------------------------------------ as Jupyter and the documentation site run it

KERNEL_STEPS = 20  # a real kernel, for its outputs: the numbers do not matter here
SITE_PAGE = DOCS.parent / "site" / "walkthrough" / "index.html"  # `make docs` builds it


def figure_cells(nb) -> list[int]:
    """The code cells that draw a figure (they end by showing it)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "ds.plot_" in c.source]


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """The notebook executed in a Jupyter kernel (nbclient), as Jupyter and mkdocs-jupyter do."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("kernel")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPSETS_NOTEBOOK_STEPS", str(KERNEL_STEPS))
        NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def test_every_figure_shows_as_an_image_in_jupyter(kernel_run):
    cells = figure_cells(kernel_run)
    assert len(cells) >= 2
    for i in cells:
        kinds = [set(o.get("data", {})) for o in kernel_run.cells[i].outputs]
        assert any("image/png" in k for k in kinds), f"cell {i} shows no image: {kinds}"


def test_the_notebook_runs_clean_no_warnings_no_stray_reprs(kernel_run):
    for i, cell in enumerate(kernel_run.cells):
        for out in cell.get("outputs", []):
            assert not (out.output_type == "stream" and out.name == "stderr"), (i, out.text)
            # a shown value is a figure, as an image (its text/plain is the fallback of a viewer
            # that cannot show images): never a Generator or any other stray repr
            if out.output_type == "execute_result":
                assert "image/png" in out.data, (i, out.data.get("text/plain"))


def test_a_short_run_says_so_at_the_top(kernel_run):
    first = next(c for c in kernel_run.cells if c.cell_type == "code")
    printed = "".join(o.get("text", "") for o in first.outputs)
    assert f"A short run: {KERNEL_STEPS} Adam steps per model instead of the exercise's 4000" in (
        printed
    )


@pytest.mark.skipif(
    not SITE_PAGE.is_file() or SITE_PAGE.stat().st_mtime < NOTEBOOK.stat().st_mtime,
    reason="no site built from this notebook: `make docs` (make test builds it first)",
)
def test_the_sites_walkthrough_page_shows_every_figure():
    page = SITE_PAGE.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="data:image/png;base64,', page)
    assert len(images) >= len(figure_cells(nbformat.read(NOTEBOOK, as_version=4)))
    assert "&lt;Figure size" not in page and "IProgress" not in page
    assert "<em>20+20 + 20</em>" not in page  # the `*` of 10*20+20 + 20*20+20 kept
