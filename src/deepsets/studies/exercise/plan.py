"""The study's models: variants declared by the sections, then trained together.

A `Variant` is a frozen spec (a name, a constructor and its arguments, the set sizes it trains
on; `variants.py`, with the functions that make them). Sections declare the variants they need
on one `Plan` (`design.declare`) and keep the returned handles; the plan trains every variant
once per seed, all in one `train_many` call (each model on its variant's set sizes) so that
models of one architecture and data share a stack, and returns a `Runs` (models and losses) per
variant. Declaring an identical variant twice shares its models; a name reused with another
spec is an error.

Shape letters: S seeds, T training steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many
from deepsets.models import DeepSet
from deepsets.studies.exercise.settings import StudySettings
from deepsets.studies.exercise.variants import (
    Declarations,
    Poolings,
    Variant,
    declare_poolings,
    deepset_variant,
    exercise_deepset,
    exercise_mlp,
    mlp_variant,
    sweep_variants,
)

__all__ = [  # the specs are defined in variants.py (no torch); importable from here too
    "Declarations",
    "Plan",
    "Poolings",
    "Runs",
    "Variant",
    "declare_poolings",
    "deepset_variant",
    "exercise_deepset",
    "exercise_mlp",
    "mlp_variant",
    "sweep_variants",
]


@dataclass(frozen=True, eq=False)
class Runs:
    """One variant trained once per seed: the models and their training losses."""

    variant: Variant
    seeds: tuple[int, ...]
    models: tuple[nn.Module, ...]
    losses: np.ndarray = field(repr=False)
    """(S, T) training loss of every seed at every step."""
    snapshots: Mapping[int, tuple[nn.Module, ...]] = field(default_factory=dict, repr=False)
    """step -> the S models as they were after that many steps of this run (if asked for)."""

    def deepsets(self) -> list[DeepSet]:
        """The models as DeepSets, for sections that read phi; a TypeError for other variants."""
        models = [m for m in self.models if isinstance(m, DeepSet)]
        if len(models) != len(self.models):
            raise TypeError(f"variant {self.variant.name!r} is not a DeepSet")
        return models

    def final_loss(self, window: int) -> np.ndarray:
        """(S,) mean training loss of each seed over its last `window` steps."""
        final: np.ndarray = self.losses[:, -window:].mean(axis=1)
        return final


class Plan(Declarations):
    """The variants a study trains, declared by its sections before any training, and the
    seeds and device it trains them on."""

    def __init__(self, seeds: list[int], device: torch.device) -> None:
        super().__init__()
        self.seeds, self.device = list(seeds), device

    @property
    def n_models(self) -> int:
        return len(self.variants) * len(self.seeds)

    def train(
        self, s: StudySettings, progress: bool, snapshots: Sequence[int] = ()
    ) -> Mapping[Variant, Runs]:
        """Train every declared variant for every seed in one `train_many` call, each model on
        its variant's set sizes (the models of one architecture and set sizes are stacked
        together; the stacks of all share out the workers). Copies of the models after each
        of the steps `snapshots` are kept (`Runs.snapshots`)."""
        variants = list(self.variants.values())
        models = [v.build(seed, self.device) for v in variants for seed in self.seeds]
        snaps: dict[int, list[nn.Module]] = dict.fromkeys(snapshots, [])
        _, losses = train_many(
            models,
            s.steps,
            seeds=[seed for _ in variants for seed in self.seeds],
            batch_size=s.batch_size,
            lr=s.lr,
            sizes=[v.set_sizes for v in variants for _ in self.seeds],
            engine=Engine(progress=progress, snapshots=snaps, threads=s.threads),
        )  # losses (len(variants) * S, T)
        S = len(self.seeds)
        trained: dict[Variant, Runs] = {}
        for i, v in enumerate(variants):
            runs = slice(i * S, (i + 1) * S)
            kept = {step: tuple(m[runs]) for step, m in snaps.items()}
            trained[v] = Runs(v, tuple(self.seeds), tuple(models[runs]), losses[runs], kept)
        return trained
