"""The marker of a finished run, `.deepsets-run`: its id and every path it wrote, so that
`--overwrite` (`lab.output`) replaces only what an earlier run wrote, and only the run it saw.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = ".deepsets-run"
MAX_MARKER_BYTES = 1_000_000  # a run lists ~30 paths (~2 kB); anything far larger is not ours


def listing(d: Path) -> set[str]:
    """Every path under `d`, relative, '/'-separated; directories end in '/'. Links not followed."""
    paths = set()
    for root, dirs, files in os.walk(d):
        rel = Path(root).relative_to(d)
        for name in dirs:  # a symlink to a directory is listed as a file: never entered
            link = (Path(root) / name).is_symlink()
            paths.add((rel / name).as_posix() + ("" if link else "/"))
        paths.update((rel / name).as_posix() for name in files)
    return paths


def read_marker(d: Path) -> set[str]:
    """The paths an earlier run wrote into `d`, from its marker; FileExistsError if it has none."""
    return set(marker_record(d)["paths"]) | {MARKER}


def run_id(d: Path) -> str | None:
    """The id of the run in `d`, from its marker; None if `d` holds no valid one (or is none)."""
    try:
        return str(marker_record(d)["run_id"])
    except (FileExistsError, OSError):
        return None


def marker_record(d: Path) -> dict[str, Any]:
    """The marker of the earlier run in `d`, checked; FileExistsError if it has none."""
    marker = d / MARKER
    refuse = (
        f"{d} is not empty and holds no valid {MARKER} marker, so it is not an earlier study's "
        "output; --overwrite only replaces those. Choose another --out"
    )
    if marker.is_symlink() or not marker.is_file() or marker.stat().st_size > MAX_MARKER_BYTES:
        raise FileExistsError(refuse)
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise FileExistsError(f"{refuse} (the marker is unreadable: {e})") from e
    paths = record.get("paths") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or record.get("program") != "deepsets"
        or not isinstance(record.get("run_id"), str)
        or not isinstance(paths, list)
        or not all(isinstance(p, str) and _relative(p) for p in paths)
    ):
        raise FileExistsError(refuse)
    return record


def _relative(path: str) -> bool:
    return not path.startswith("/") and ".." not in path.split("/")


def remove_run(d: Path, paths: set[str]) -> None:
    """Delete the listed `paths` of a run in `d`, then `d` if nothing else is left in it."""
    for p in sorted(paths, key=lambda p: p.count("/") - p.endswith("/"), reverse=True):
        target = d / p
        with contextlib.suppress(OSError):
            if p.endswith("/"):
                target.rmdir()  # only when empty: anything unlisted inside stays
            else:
                target.unlink()
    try:
        d.rmdir()
    except OSError:
        log.warning("kept %s: it holds files the earlier run did not write", d)


def write_marker(tmp: Path) -> None:
    """Record in `tmp` a new run id and every path written there (the marker lists itself)."""
    paths = sorted(listing(tmp) | {MARKER})
    record = {"program": "deepsets", "run_id": uuid.uuid4().hex, "paths": paths}
    (tmp / MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")
