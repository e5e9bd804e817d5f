"""The theory study's settings: one frozen dataclass, a documented field each (`--help`).

`QUICK` holds the smaller defaults of `--quick`; `check` validates every field before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsets.lab.settings import CommonSettings, check_common
from deepsets.validate import positive_float, positive_int, positive_ints


@dataclass(frozen=True)
class TheorySettings(CommonSettings):
    """Everything `run_theory` needs."""

    train_sets: int = 4096
    """Training sets per seed of each task of claims 1-4."""
    test_sets: int = 4096
    """Fresh test sets of each task, shared by every model of a claim."""
    batch_size: int = 128
    """Sets per Adam step, drawn from the model's own training sets."""
    lr: float = 3e-3
    """Adam learning rate of claims 1-4."""
    hidden: int = 16
    """Hidden units of phi (and of the per-object and equivariant networks)."""
    rho_hidden: int = 64
    """Hidden units of rho, the set-wide network."""
    median_steps: int = 3000
    """Adam steps of each median regression (claim 1)."""
    set_sizes: tuple[int, ...] = (2, 4, 8, 16)
    """N, the set sizes of the median regression (claim 1)."""
    latents: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    """L, the latent widths of the median regression (claim 1)."""
    multiset_steps: int = 4000
    """Adam steps of the multiplicity task (claim 2)."""
    steps: int = 2000
    """Adam steps of the mean and equivariant tasks (claims 3 and 4)."""
    latent: int = 8
    """Latent width L of the DeepSets of claims 2 and 3 (equal for every pooling)."""
    mean_objects: int = 10
    """N, objects per set of the mean regression (claim 3)."""
    equivariant_objects: int = 10
    """N, objects per set of the "above its set's mean" task (claim 4)."""
    spread: float = 2.0
    """Standard deviation of each set's offset in claim 4 (it hides the mean from one object)."""
    layers: int = 3
    """PermEquivariant layers of claim 4's equivariant network."""
    trap_sets: int = 2000
    """Training sets per seed of the exercise task (make_data; claim 5)."""
    trap_lr: float = 1e-3
    """Adam learning rate of the exercise task (claim 5; the exercise: 1e-3)."""
    trap_steps: int = 4000
    """Adam steps of the exercise task (claim 5; the exercise: 4000)."""
    wide_latent: int = 8
    """Latent width of the 'wider latent' remedy (claim 5; the exercise's DeepSet has 1)."""


QUICK: dict[str, Any] = dict(
    seeds=2,
    train_sets=256,
    test_sets=256,
    batch_size=32,
    median_steps=20,
    set_sizes=(2, 4),
    latents=(1, 2, 4),
    steps=20,
    multiset_steps=20,
    trap_steps=20,
    trap_sets=200,
)
"""The defaults `--quick` changes; every other field keeps its own."""


def quick_settings(**overrides: Any) -> TheorySettings:
    """The quick run: QUICK's values and quick=True, then `overrides` (explicit settings win)."""
    return TheorySettings(**{**QUICK, "quick": True, **overrides})


POSITIVE = (
    "train_sets", "test_sets", "batch_size", "hidden", "rho_hidden", "median_steps",
    "multiset_steps", "steps", "latent", "mean_objects", "equivariant_objects", "layers",
    "trap_sets", "trap_steps", "wide_latent",
)  # fmt: skip
"""The fields that must be positive integers."""


def check(settings: TheorySettings) -> TheorySettings:
    """Check every field (a ValueError naming the first bad one); return the settings as given."""
    if not isinstance(settings, TheorySettings):
        raise TypeError(f"settings must be a TheorySettings, got {settings!r:.80}")
    s = settings
    check_common(s)
    for name in POSITIVE:
        positive_int(getattr(s, name), name)
    positive_float(s.lr, "lr")
    positive_float(s.trap_lr, "trap_lr")
    positive_float(s.spread, "spread")
    if s.equivariant_objects < 2:
        raise ValueError(f"equivariant_objects must be at least 2, got {s.equivariant_objects}")
    positive_ints(s.set_sizes, "set_sizes")
    positive_ints(s.latents, "latents")
    if s.trap_sets % 2:
        raise ValueError(f"trap_sets must be even (make_data balances classes), got {s.trap_sets}")
    return s


__all__ = ["QUICK", "TheorySettings", "check", "quick_settings"]
