"""The exercise page's Python walk-through (docs/studies/exercise.md) runs as written (with
fewer steps)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "docs" / "studies" / "exercise.md"


def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the exercise page has no python example"
    code = blocks[0].replace("4000", "300")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["ds"].count_params(namespace["deepset"]) == 62
    assert namespace["ds"].count_params(namespace["mlp"]) == 661
    changes = namespace["check"].max_change
    assert changes["DeepSet"] < 1e-6 < changes["MLP"]
    assert len(namespace["losses"]) == 300
