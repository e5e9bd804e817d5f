"""`--threads N` reaches training in every study: each study's engine calls get threads=N (the
engine's own tests check that a training step runs on that many threads)."""

from __future__ import annotations

from typing import Any

import pytest

from deepsets.engine import train as engine
from deepsets.lab import run as lab_run
from deepsets.studies.digits.run import run_digits
from deepsets.studies.digits.settings import quick_settings as digits_quick
from deepsets.studies.exercise import plan
from deepsets.studies.exercise.run import run_study
from deepsets.studies.exercise.sections import symmetry
from deepsets.studies.exercise.settings import quick_settings as exercise_quick
from deepsets.studies.theory import common
from deepsets.studies.theory.run import run_theory
from deepsets.studies.theory.settings import quick_settings as theory_quick


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, calls: list[Any]) -> None:
    """Replace module.name (train_on or train_many) by a recorder of its `threads` argument."""
    real = getattr(engine, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["engine"].threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, recorded)


# 1 and None train alike (TORCH_THREADS is 1): what is checked is that the setting is passed
@pytest.mark.parametrize("threads", [1, None])
def test_every_study_passes_its_threads_to_every_training_call(monkeypatch, tmp_path, threads):
    calls: list[Any] = []
    spy(monkeypatch, plan, "train_many", calls)
    spy(monkeypatch, symmetry, "train_on", calls)
    spy(monkeypatch, lab_run, "train_on", calls)  # the digits' phases
    spy(monkeypatch, common, "train_on", calls)
    run_study(exercise_quick(out=str(tmp_path / "e"), steps=60, final_window=10, extras=False,
                             threads=threads))  # fmt: skip
    n_exercise = len(calls)
    run_digits(digits_quick(out=str(tmp_path / "d"), steps=4, fine_steps=2, train_sets=100,
                            lengths=(5,), test_sets=10, seeds=1, threads=threads))  # fmt: skip
    n_digits = len(calls) - n_exercise
    run_theory(theory_quick(out=str(tmp_path / "t"), seeds=1, set_sizes=(2,), latents=(1,),
                            train_sets=32, test_sets=32, threads=threads))  # fmt: skip
    n_theory = len(calls) - n_exercise - n_digits
    # digits: two phases each of the text models, the image baselines and the image DeepSet
    assert n_exercise >= 2 and n_digits == 6 and n_theory == 5  # every study trained
    assert calls == [threads] * len(calls)
