"""A quick run (`--quick`) is a smoke test, and says so: the label at the top of its report and
console summary, and its verdicts read "not judged (quick run)".

The verdicts are chosen by the same code as a full run's (a full run is judged as always); a
quick run only withholds the outcome, since at its reduced scale (fewer seeds, steps and sizes)
the models have not learned what the claims are about. Every study calls `label` and `judged`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

from deepsets.lab.verdict import Outcome, Verdict

T = TypeVar("T")


def command(study: str) -> str:
    """The command of the full study `study` (its name in the registry)."""
    return f"deepsets run {study}"


def label(study: str, quick: bool) -> str | None:
    """The line at the top of a quick run's report and summary; None for a full run."""
    if not quick:
        return None
    return (
        "Quick run: a smoke test at a reduced scale (fewer seeds, steps and sizes) that checks "
        "the study runs end to end, not what it finds; its verdicts are not judged. "
        f"The full study: {command(study)}"
    )


def judged(value: T, quick: bool) -> T:
    """`value` (a Verdict, or dataclasses, mappings, lists and tuples of them) as a run of this
    scale may state it: unchanged for a full run; for a quick run with every Verdict's outcome
    `Outcome.UNJUDGED` (its numbers and sentence kept)."""
    if not quick:
        return value
    return _unjudged(value)


def _unjudged(value: T) -> T:
    out: object
    if isinstance(value, Verdict):
        out = dataclasses.replace(value, outcome=Outcome.UNJUDGED)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _unjudged(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out = dataclasses.replace(value, **changes)
    elif isinstance(value, Mapping):
        out = {k: _unjudged(v) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        out = type(value)(_unjudged(v) for v in value)
    else:
        out = value
    return out  # type: ignore[return-value]  # the same type as `value`, rebuilt
