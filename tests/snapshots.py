"""Helpers for the fault tests: what a directory tree holds, and what a run left behind."""

from __future__ import annotations

import os
from pathlib import Path

from deepsets.lab.output import OLD_PREFIX, PARTIAL_PREFIX


def snapshot(root: Path) -> dict[str, object]:
    """Every path under `root` -> its bytes (files), its target (links) or 'dir'."""
    out: dict[str, object] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = p.read_bytes()
    return out


def debris(*roots: Path) -> list[Path]:
    """Staging or replaced-run directories a run left in `roots` (there should be none)."""
    return [
        p
        for root in roots
        for p in root.iterdir()
        if p.name.startswith((PARTIAL_PREFIX, OLD_PREFIX)) or ".partial-" in p.name
    ]


def fake_run(d: Path, files: dict[str, str]) -> Path:
    """A finished run in `d` (with its marker), holding `files` (relative path -> text)."""
    from deepsets.lab.marker import write_marker

    d.mkdir(parents=True)
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    write_marker(d)
    return d
