"""What a study is to the CLI: `Study`, one entry of the registry `deepsets.studies.STUDIES`.

Every study is built the same way: a frozen settings dataclass (inheriting
`lab.settings.CommonSettings`), its `--quick` preset, its check, a run function that checks,
trains, measures and writes (`lab.run`), then returns frozen results, and a console summary of
those results. A study's folder exposes its `Study` in its `__init__.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

S = TypeVar("S")  # the study's settings
R = TypeVar("R")  # its results


@dataclass(frozen=True)
class Study(Generic[S, R]):
    """One study that `deepsets run NAME` runs."""

    settings: type[S]
    """A frozen dataclass with a default for every field and a docstring under each."""
    about: str
    """One line for `deepsets --help` and the top of `deepsets run NAME --help`."""
    quick: Callable[[], S]
    """The settings of `--quick`: smaller defaults that explicit flags still override."""
    check: Callable[[S], S]
    """Validates the settings (a ValueError naming the bad field) and estimates the run's memory
    (`lab.memory`, refused naming the flags) before any work starts."""
    run: Callable[[S], R]
    """Runs the study and writes its outputs; returns its frozen results."""
    summary: Callable[[R], None]
    """Prints the console summary of the results `run` returned."""
