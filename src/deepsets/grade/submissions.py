"""The submissions of a class: .py files and .ipynb notebooks found in the paths given, read
(never run) in the grader's process: their code, their figures and their written answers."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".py", ".ipynb")
# a notebook line that is IPython, not Python (`%matplotlib inline`, `!pip install ...`)
MAGIC = re.compile(r"^\s*[%!]")
STEP_7 = re.compile(r"step\s*7|extra question", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """One student's solution, as read from its file."""

    name: str
    """A name unique in the class (the file's stem, with its folder if two stems are alike)."""
    path: Path
    """The file as given."""
    code: str
    """The Python source to run: the file, or the notebook's code cells one after the other."""
    cells: tuple[int, ...]
    """For a notebook, the cell (numbered from 1, markdown too) of each line of `code`."""
    figures: int
    """Images among a notebook's saved outputs (0 for a .py file)."""
    answers: str
    """The text written for Step 7 (markdown cells, or comments, from its heading on)."""


class SubmissionError(ValueError):
    """A path that is not a readable submission; the message names it."""


def find(paths: Sequence[str]) -> list[Path]:
    """The .py and .ipynb files of `paths` (folders searched recursively, hidden ones skipped)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*")
                if p.suffix in SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )  # fmt: skip
            if not inside:
                raise SubmissionError(f"{given}: the folder holds no .py or .ipynb file")
            found.extend(inside)
        elif not path.exists():
            raise SubmissionError(f"{given}: no such file or folder")
        elif path.suffix not in SUFFIXES:
            raise SubmissionError(f"{given}: not a .py file or an .ipynb notebook")
        else:
            found.append(path)
    return list(dict.fromkeys(found))  # a file named twice is graded once


def names(paths: Sequence[Path]) -> list[str]:
    """Unique, filesystem-safe names: the stem, or folder__stem where stems collide."""
    stems = [p.stem for p in paths]
    chosen = [
        s if stems.count(s) == 1 else "__".join((*p.parent.parts[-2:], p.stem))
        for s, p in zip(stems, paths, strict=True)
    ]
    safe = [re.sub(r"[^\w.-]", "_", c).lstrip(".") or "submission" for c in chosen]
    return [s if safe.count(s) == 1 else f"{s}_{i}" for i, s in enumerate(safe)]


def read(path: Path, name: str) -> Submission:
    """Read one submission; a SubmissionError naming it if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SubmissionError(f"{path}: cannot be read ({e})") from e
    if path.suffix == ".py":
        return Submission(name, path, text, (), 0, step_7_comments(text))
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError) as e:
        raise SubmissionError(f"{path}: not a Jupyter notebook ({e})") from e
    return from_cells(path, name, cells)


def source(cell: dict[str, object]) -> str:
    """A cell's text (nbformat stores it as one string or a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def from_cells(path: Path, name: str, cells: list[dict[str, object]]) -> Submission:
    """A notebook's code cells as one script (magics commented out), its images and Step 7."""
    lines: list[str] = []
    numbers: list[int] = []
    figures, answers, after_7 = 0, [], False
    code_cells = [c for c in cells if c.get("cell_type") == "code"]
    for number, cell in enumerate(cells, start=1):  # numbered as the notebook shows them
        if cell.get("cell_type") != "code":
            continue
        cell_lines = source(cell).splitlines() or [""]
        lines += ["# " + line if MAGIC.match(line) else line for line in cell_lines]
        numbers += [number] * len(cell_lines)
        outputs = cell.get("outputs", [])
        figures += sum(
            "image/png" in o.get("data", {}) for o in outputs if isinstance(o, dict)
        ) if isinstance(outputs, list) else 0  # fmt: skip
    for cell in cells:
        text = source(cell)
        if cell.get("cell_type") == "markdown":
            after_7 = after_7 or bool(STEP_7.search(text))
            if after_7:
                answers.append(text.strip())
    comments = step_7_comments("\n".join(source(c) for c in code_cells))
    written = "\n\n".join(answers + ([comments] if comments else []))
    return Submission(name, path, "\n".join(lines) + "\n", tuple(numbers), figures, written)


def step_7_comments(code: str) -> str:
    """The comment lines of `code` from the first one that mentions Step 7 on."""
    lines = [line.strip() for line in code.splitlines()]
    comments = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
    for i, comment in enumerate(comments):
        if STEP_7.search(comment):
            return "\n".join(comments[i:]).strip()
    return ""


def where(submission: Submission, line: int) -> str:
    """'line 12', or 'cell 3, line 2' in a notebook, for a line of `submission.code`."""
    if not submission.cells or not 1 <= line <= len(submission.cells):
        return f"line {line}"
    cell = submission.cells[line - 1]
    return f"cell {cell}, line {line - submission.cells.index(cell)}"
