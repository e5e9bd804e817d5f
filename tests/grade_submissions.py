"""A class of submissions for the grader's tests: the reference solution (grade_class/
reference.py) as a .py file and as a notebook, one copy per check with exactly that fault, and
hostile ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

REFERENCE = (Path(__file__).parent / "grade_class" / "reference.py").read_text(encoding="utf-8")

# check id -> (text of the reference, its faulty replacement)
FAULTS = {
    "data.shape": ("    return X, y\n", "    return X.squeeze(-1), y\n"),
    "data.balanced": ("    y[N // 2 :] = 1\n", "    y[:, 0] = (torch.rand(N) < 0.5).float()\n"),
    "data.values": ("k = 5 if y[i] == 1 else 3", "k = 4 if y[i] == 1 else 3"),
    "data.labels": ("k = 5 if y[i] == 1 else 3", "k = 3 if y[i] == 1 else 5"),
    "data.random": ("torch.randperm(10)[:k]", "torch.arange(k)"),
    "deepset.invariant": (
        "h = self.phi(x)\n",
        "h = self.phi(x + torch.linspace(0, 0.01, x.shape[1]).view(1, -1, 1))\n",
    ),
    "deepset.sum_pooling": ("h.sum(dim=1)", "h.mean(dim=1)"),
    "deepset.phi_nonlinear": (
        "nn.Linear(1, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh()", "nn.Linear(1, 5), nn.Linear(5, 5)"
    ),
    "deepset.output": ("return self.rho(h.sum(dim=1))", "return self.rho(h.sum(dim=1))[:, 0]"),
    "deepset.learns": (  # evaluated without gradients, it cannot be trained
        "        h = self.phi(x)\n        return self.rho(h.sum(dim=1))\n",
        "        with torch.no_grad():\n            return self.rho(self.phi(x).sum(dim=1))\n",
    ),
    "mlp.sequential": ("        nn.Flatten(), nn.Linear(10, 20)", "        nn.Linear(10, 20)"),
    "train.returns": ("    return model, losses\n", "    return losses\n"),
    "train.adam": ("torch.optim.Adam(model.parameters(), lr=1e-3)",
                   "torch.optim.SGD(model.parameters(), lr=0.1)"),
    "train.fresh_data": (
        "    for _ in range(steps):\n        X, y = make_data(100)\n",
        "    X, y = make_data(100)\n    for _ in range(steps):\n",
    ),
    "count_params.exact": ("sum(p.numel() for p in model.parameters())",
                           "len(list(model.parameters()))"),
    "notebook.figures": ("    plt.imshow(X[..., 0])\n", ""),
    "notebook.permutations": ("np.random.permutation(10)", "torch.arange(10)"),
}  # fmt: skip
# checks a fault costs besides its own: a DeepSet whose phi is affine cannot learn the task
ALSO_LOST = {"deepset.phi_nonlinear": {"deepset.learns"}}

DELETER = """
import glob, os, shutil
for path in TARGETS:
    for name in glob.glob(path):
        try:
            os.remove(name)
        except OSError as e:
            print("could not delete", name, e)
shutil.rmtree(os.getcwd(), ignore_errors=True)
shutil.rmtree(os.path.expanduser("~"), ignore_errors=True)
"""

HOSTILE = {
    "hog": "chunks = [bytearray(2**28) for _ in range(1000)]\n",
    "exits": "import sys\nsys.exit(3)\n",
    "syntax": "def make_data(N):\n    return N +\n",
    "forkbomb": "import os\nwhile True:\n    os.fork()\n",
}
# hostile name -> (status, a part of its message)
HOSTILE_OUTCOMES = {
    "hog": ("memory", "ran out of memory while it was loaded (line 1)"),
    "exits": ("error", "sys.exit(3) while it was loaded (line 2)"),
    "syntax": ("error", "syntax error in line 2"),
    "forkbomb": ("error", "Resource temporarily unavailable"),
    "deleter": ("graded", ""),
}


# graded apart, with a short time limit: a loop at import, and one in train (after the other
# measurements, which are kept)
LOOPS = {
    "loop": "while True:\n    pass\n",
    "loop_in_train": REFERENCE.replace(
        "    losses = []\n", "    losses = []\n    while True:\n        pass\n"
    ),
}


def faulty(check: str) -> str:
    """The reference with the fault of `check`."""
    old, new = FAULTS[check]
    assert REFERENCE.count(old) == 1, (check, old)
    return REFERENCE.replace(old, new)


def notebook(source: str, answer: str) -> dict[str, object]:
    """The reference as a notebook: its definitions, then the main block as cells with saved
    figures, a magic, and Step 7's question and answer in markdown."""
    definitions, main = source.split('if __name__ == "__main__":\n')
    body = [line[4:] for line in main.splitlines()]
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}}

    def code(text: str, outputs: list[object] | None = None) -> dict[str, object]:
        return {"cell_type": "code", "source": text, "outputs": outputs or [], "metadata": {},
                "execution_count": None}  # fmt: skip

    def markdown(text: str) -> dict[str, object]:
        return {"cell_type": "markdown", "source": text, "metadata": {}}

    cells = [
        markdown("# Permutation-invariant networks"),
        code("%matplotlib inline\n" + definitions.split('"""', 2)[2].strip()),
        code("\n".join(body[:2]), [png]),
        code("\n".join(body[2:3]).replace("train(DeepSet())", "train(DeepSet(), steps=100)")),
        code("\n".join(body[3:4]), [png]),
        code("\n".join(body[4:7])),
        markdown("## Step 7: Extra Question"),
        markdown(answer),
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def build_class(folder: Path, protected: list[Path]) -> None:
    """Write the class into `folder`; the deleter tries to remove everything in `protected`."""
    folder.mkdir(parents=True)
    (folder / "reference.py").write_text(REFERENCE, encoding="utf-8")
    answer = "An MLP needs about 1400 parameters. Without tanh phi is affine: every set sums to 1."
    nb = notebook(REFERENCE, answer)
    (folder / "reference_nb.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    for check in FAULTS:
        (folder / f"fault_{check.replace('.', '_')}.py").write_text(faulty(check), encoding="utf-8")
    for name, code in HOSTILE.items():
        (folder / f"{name}.py").write_text(code, encoding="utf-8")
    # as root the grader runs it as a user of its own, who may not delete the class; a grader
    # run as an ordinary user gives no such protection, so then it only empties its copy
    targets = [f"{p}/*" for p in protected] if os.geteuid() == 0 else []
    (folder / "deleter.py").write_text(f"TARGETS = {targets!r}\n" + DELETER, encoding="utf-8")
