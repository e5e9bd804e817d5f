"""The `deepsets run theory` entry: run the study and print its verdicts (imported lazily)."""

from __future__ import annotations

from deepsets.studies.theory.settings import TheorySettings


def run_and_print(settings: TheorySettings) -> None:
    """Run the theory study and print each claim's verdict (the heavy modules load here)."""
    from deepsets.studies.theory.run import print_summary, run_theory

    print_summary(run_theory(settings))
