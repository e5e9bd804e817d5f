"""The study's settings: one frozen dataclass, one documented field each; `--help` is built from it.

The defaults reproduce the exercise: 4000 Adam steps at lr 1e-3 on fresh batches of 100 sets,
the 62-parameter DeepSet, the (20, 20) ReLU MLP, over 5 seeds. `QUICK` holds the smaller
defaults of `--quick`; `resolve` checks every field before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsets.checks import check_n_sets, check_training_args, positive_int, positive_ints
from deepsets.lab.settings import CommonSettings, check_common
from deepsets.models.activation import check_activation


@dataclass(frozen=True)
class StudySettings(CommonSettings):
    """Everything `run_study` needs; the defaults are the exercise's (out, seeds, threads,
    device, scheduler and the other fields every study takes come from CommonSettings)."""

    steps: int = 4000
    """Adam steps per model (the exercise: 4000)."""
    batch_size: int = 100
    """Sets per training batch (a fresh batch every step)."""
    lr: float = 1e-3
    """Adam learning rate."""
    hidden: int = 5
    """Hidden units of the DeepSet's phi and rho (the exercise: 5, giving 62 parameters)."""
    mlp_hidden: tuple[int, ...] = (20, 20)
    """Hidden widths of the exercise's MLP baseline."""
    mlp_activation: str = "relu"
    """Activation of the MLP baseline."""
    sweep_widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    """MLP widths of the parameter sweep (question 7a)."""
    sweep_depths: tuple[int, ...] = (1, 2)
    """MLP depths (hidden layers) of the parameter sweep."""
    sweep_activations: tuple[str, ...] = ("relu", "tanh")
    """MLP activations of the parameter sweep."""
    test_size: int = 10_000
    """Sets per test size in the set-size section (fresh sets of 5 to 100 objects)."""
    final_window: int = 200
    """Final loss = mean training loss over this many last steps."""
    permutations: int = 3
    """Random permutations in the invariance check (step 6)."""
    extras: bool = True
    """The sections beyond the exercise (set sizes, pooling, latent width, learned phi)."""


QUICK: dict[str, Any] = dict(
    seeds=2,
    steps=300,
    sweep_widths=(4, 16),
    sweep_depths=(1, 2),
    sweep_activations=("relu",),
    test_size=2000,
    final_window=50,
)
"""The defaults `--quick` changes (a smoke test in seconds); every other field keeps its own."""


def quick_settings(**overrides: Any) -> StudySettings:
    """The quick run: QUICK's values and quick=True, then `overrides` (explicit settings win)."""
    return StudySettings(**{**QUICK, "quick": True, **overrides})


def resolve(settings: StudySettings) -> StudySettings:
    """Check every field (a ValueError naming the first bad one) and return the settings as given.

    Nothing is replaced or filled in: what `run_study` runs is what the caller asked for.
    """
    if not isinstance(settings, StudySettings):
        raise TypeError(f"settings must be a StudySettings, got {settings!r}")
    s = settings
    check_common(s, flags=("extras",))
    check_training_args(s.steps, s.batch_size, s.lr)
    positive_int(s.hidden, "hidden")
    positive_ints(s.mlp_hidden, "mlp_hidden")
    check_activation(s.mlp_activation, "mlp_activation")
    positive_ints(s.sweep_widths, "sweep_widths")
    positive_ints(s.sweep_depths, "sweep_depths")
    check_activations(s.sweep_activations, "sweep_activations")
    check_n_sets(positive_int(s.test_size, "test_size"), "test_size")
    if positive_int(s.final_window, "final_window") > s.steps:
        raise ValueError(
            f"final_window ({s.final_window}) must not exceed steps ({s.steps}): "
            "give a smaller final_window"
        )
    positive_int(s.permutations, "permutations")
    return s


def check_activations(values: object, name: str) -> None:
    """A non-empty tuple or list of activation names (no None: every MLP of a sweep is named)."""
    if not isinstance(values, tuple | list) or not values:
        raise ValueError(f"{name} must be a non-empty list of activation names, got {values!r}")
    for i, a in enumerate(values):
        if a is None:
            raise ValueError(f"{name}[{i}] must be an activation name, got None")
        check_activation(a, f"{name}[{i}]")
