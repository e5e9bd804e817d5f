"""The theory study's settings: one frozen dataclass, a documented field each (`--help`).

`QUICK` holds the smaller defaults of `--quick`; `check` validates every field before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsets.checks import positive_ints
from deepsets.data import data_bytes
from deepsets.lab.memory import (
    Need,
    activations_need,
    check_needs,
    largest,
    losses_need,
    models_need,
)
from deepsets.lab.settings import CommonSettings, check_common, check_positive
from deepsets.models.deepset import DeepSet
from deepsets.studies.theory.tasks import BYTES_PER_OBJECT


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
    check_positive(s, POSITIVE, floats=("lr", "trap_lr", "spread"))
    if s.equivariant_objects < 2:
        raise ValueError(f"equivariant_objects must be at least 2, got {s.equivariant_objects}")
    positive_ints(s.set_sizes, "set_sizes")
    positive_ints(s.latents, "latents")
    if s.trap_sets % 2:
        raise ValueError(f"trap_sets must be even (make_data balances classes), got {s.trap_sets}")
    check_needs(s, memory_needs(s))
    return s


TRAP_MODELS = 5  # the trap claim's DeepSets per seed (claims/trap.py: the baseline, four cures)
POOLED = 3  # claims 2 and 3 train one DeepSet per pooling (sum, mean, max) and seed


def memory_needs(s: TheorySettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): each
    claim's training sets (one copy per model of a seed) and its test sets, the models and
    their losses, and a training step's activations."""
    median_N, multiset_N = max(s.set_sizes), 3 * 4  # multiplicity_sets: 3 symbols, 4 times
    per_seed = [  # (claim's training sets, their objects, copies per seed, the fields)
        (s.train_sets, median_N, len(s.latents), ("train_sets", "set_sizes", "latents")),
        (s.train_sets, multiset_N, POOLED, ("train_sets",)),
        (s.train_sets, s.mean_objects, POOLED, ("train_sets", "mean_objects")),
        (s.train_sets, s.equivariant_objects, 2, ("train_sets", "equivariant_objects")),
    ]
    needs = [Need("a claim's training sets", s.seeds * n * N * copies * BYTES_PER_OBJECT,
                  ("seeds", *fields)) for n, N, copies, fields in per_seed]  # fmt: skip
    trap = s.seeds * TRAP_MODELS * data_bytes(s.trap_sets, 10)
    needs.append(Need("the trap claim's training sets", trap, ("seeds", "trap_sets")))
    objects = {"set_sizes": median_N, "mean_objects": s.mean_objects,
               "equivariant_objects": s.equivariant_objects}  # fmt: skip
    widest = largest(objects)  # the field of the largest sets
    N = max(multiset_N, objects[widest])
    tests = s.test_sets * N * BYTES_PER_OBJECT
    needs.append(Need("a claim's test sets", tests, ("test_sets", widest)))
    latents = {"latent": s.latent, "wide_latent": s.wide_latent, "latents": max(s.latents)}
    latent = latents[largest(latents)]
    params = DeepSet.n_params(dict(in_features=1, hidden=s.hidden, latent=latent,
                                 rho_hidden=s.rho_hidden))  # fmt: skip
    params = max(params, s.layers * (2 * s.hidden + 1) * s.hidden)  # the PermEquivariant stack
    per_seed_models = len(s.latents) * len(s.set_sizes) + 2 * POOLED + 2 + TRAP_MODELS
    fields = ("seeds", "hidden", "rho_hidden", "layers", largest(latents))
    needs.append(models_need("the models", s.seeds * per_seed_models, [params], fields))
    steps = largest({f: getattr(s, f) for f in POSITIVE_STEPS})
    needs.append(losses_need(s.seeds * per_seed_models, getattr(s, steps), ("seeds", steps)))
    units = 2 * s.hidden + latent + s.rho_hidden + s.layers * s.hidden
    batch = min(s.batch_size, s.train_sets)  # common.fit draws at most the training sets
    needs.append(activations_need("a step's activations", s.seeds * len(s.latents), batch, N,
                                  units, (*fields, "batch_size", widest)))  # fmt: skip
    return needs


POSITIVE_STEPS = ("median_steps", "multiset_steps", "steps", "trap_steps")
"""The steps of the claims; the longest sizes the loss histories."""
