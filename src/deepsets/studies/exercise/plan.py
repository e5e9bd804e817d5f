"""The study's models: the variants each section declares, trained together.

A `Variant` is a frozen spec (a name, a constructor and its arguments, the set sizes it trains
on). `declare` puts every section's variants on one `Plan` and returns their handles; the plan
trains every variant once per seed in one `train_many` call (models of one architecture and
set sizes share a stack) and returns a `Runs` per variant. Declaring an identical variant twice
shares its models; a name reused with another spec is an error.

`check` is the study's check before any work: the settings' fields (`settings.resolve`), then
the run's memory estimated from the declared variants (`memory_needs`, counted without building
a model, so `deepsets run --test-size 1000000000` is refused in a second), naming the flags.

Shape letters: S seeds, T training steps.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from deepsets.data import CHUNK, data_bytes
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many
from deepsets.lab.memory import FLOAT, Need, activations_need, check_needs, losses_need, models_need
from deepsets.models import DeepSet, make_mlp
from deepsets.studies.exercise.settings import StudySettings, resolve

LATENTS = (1, 2, 4, 8)  # the latent widths L (sections/beyond.py); L = 1: the exercise's DeepSet
TEST_SIZES = (5, 10, 20, 50, 100)  # objects per test set in sections/beyond.py
MIXED = (5, 20)  # the set sizes of the DeepSet trained on mixed sizes (sections/beyond.py)
PERMUTED_SETS = 100  # test sets whose objects are permuted (sections/steps.py)
POOLINGS = ("sum", "mean", "max")
CHECKPOINTS = (16, 8, 4, 2)  # snapshots after steps // 16, // 8, // 4, // 2 (sections/symmetry)


def checkpoints(steps: int) -> tuple[int, ...]:
    """The steps at which accuracy is measured: steps // c for c in CHECKPOINTS, then steps."""
    return tuple(sorted({max(1, steps // c) for c in CHECKPOINTS} | {steps}))


@dataclass(frozen=True)
class Variant:
    """One architecture of the study, trained once per seed."""

    name: str
    """Its name in file names (weights/<name>-seed<s>.safetensors) and logs."""
    constructor: Literal["DeepSet", "make_mlp"]
    """Its constructor in `deepsets.models`, called with `options` and `generator=seed`."""
    options: tuple[tuple[str, Any], ...]
    """The constructor's keyword arguments, as sorted (name, value) pairs."""
    set_sizes: tuple[int, int] | None = None
    """Train on sets of lo..hi objects (zero-padded, masked); None: sets of 10."""

    def build(self, seed: int, device: torch.device) -> nn.Module:
        """A fresh model whose initial weights are drawn from `seed`."""
        constructor = DeepSet if self.constructor == "DeepSet" else make_mlp
        model: nn.Module = constructor(**dict(self.options), generator=seed)
        return model.to(device)


def deepset_variant(
    hidden: int,
    *,
    activation: str | None = "tanh",
    pooling: str = "sum",
    latent: int = 1,
    set_sizes: tuple[int, int] | None = None,
) -> Variant:
    """A DeepSet variant named by how it differs from the exercise's ("deepset-linear-max",
    "deepset-L4", "deepset-mixed"); every option is spelled out, so equal models give equal
    specs."""
    name = "deepset"
    if activation != "tanh":
        name += "-linear" if activation is None else f"-{activation}"
    name += "" if pooling == "sum" else f"-{pooling}"
    name += "" if latent == 1 else f"-L{latent}"
    name += "" if set_sizes is None else "-mixed"
    options = dict(hidden=hidden, activation=activation, pooling=pooling, latent=latent)
    return Variant(name, "DeepSet", tuple(sorted(options.items())), set_sizes)


def mlp_variant(hidden: tuple[int, ...], activation: str, name: str | None = None) -> Variant:
    """An MLP variant, named mlp-<widths>-<activation> unless `name` is given."""
    # each distinct width formatted once: a sweep of depth 10^6 is named fast, then refused
    spelled = {width: str(width) for width in set(hidden)}
    name = name or f"mlp-{'x'.join(map(spelled.__getitem__, hidden))}-{activation}"
    options = dict(hidden=tuple(hidden), activation=activation)
    return Variant(name, "make_mlp", tuple(sorted(options.items())))


def exercise_deepset(s: StudySettings) -> Variant:
    """The exercise's DeepSet: tanh phi, sum pooling, one latent feature."""
    return deepset_variant(s.hidden)


def exercise_mlp(s: StudySettings) -> Variant:
    """The exercise's MLP baseline."""
    return mlp_variant(tuple(s.mlp_hidden), s.mlp_activation, name="mlp")


def sweep_variants(s: StudySettings) -> list[Variant]:
    """The MLPs of question 7a, one per (activation, depth, width), in that order."""
    return [
        mlp_variant((width,) * depth, activation)
        for activation in s.sweep_activations
        for depth in s.sweep_depths
        for width in s.sweep_widths
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


class Plan:
    """The variants a study trains, declared by its sections before any training (by name),
    and the seeds and device it trains them on."""

    def __init__(self, seeds: Sequence[int] = (), device: torch.device | None = None) -> None:
        self.variants: dict[str, Variant] = {}
        self.seeds, self.device = list(seeds), device or torch.device("cpu")

    @property
    def n_models(self) -> int:
        return len(self.variants) * len(self.seeds)

    def declare(self, variant: Variant) -> Variant:
        """Add `variant` (or find the identical one already declared) and return it."""
        known = self.variants.setdefault(variant.name, variant)
        if known != variant:
            raise ValueError(
                f"variant name {variant.name!r} is already declared with another spec: "
                f"{known} vs {variant}"
            )
        return variant

    def train(
        self, s: StudySettings, progress: bool, snapshots: Sequence[int] = ()
    ) -> Mapping[Variant, Runs]:
        """Train every declared variant for every seed in one `train_many` call, each model on
        its variant's set sizes, keeping copies of the models after each of the steps
        `snapshots` (`Runs.snapshots`)."""
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


class Poolings(NamedTuple):
    """One DeepSet with each of the three poolings."""

    sum_pooling: Variant
    mean_pooling: Variant
    max_pooling: Variant


def poolings(s: StudySettings, activation: str | None = "tanh") -> Poolings:
    """The DeepSet of `activation` with sum, mean and max pooling."""
    pooled = (deepset_variant(s.hidden, activation=activation, pooling=p) for p in POOLINGS)
    return Poolings(*pooled)


def affine_deepset(s: StudySettings) -> Variant:
    """Question 7b's DeepSet: the exercise's with an affine phi (no nonlinearity)."""
    return deepset_variant(s.hidden, activation=None)


def mixed_deepset(s: StudySettings) -> Variant:
    """The exercise's DeepSet trained on sets of MIXED sizes (the set-size section)."""
    return deepset_variant(s.hidden, set_sizes=MIXED)


def latent_variants(s: StudySettings) -> list[Variant]:
    """The exercise's DeepSet with each latent width of LATENTS."""
    return [deepset_variant(s.hidden, latent=L) for L in LATENTS]


def saved(s: StudySettings) -> list[Variant]:
    """The variants whose weights are written: the exercise's two and 7b's."""
    return [exercise_deepset(s), exercise_mlp(s), affine_deepset(s)]


def declare(plan: Plan, s: StudySettings) -> None:
    """Declare every section's variants on `plan`, in the order that fixes how the trainer
    stacks them; the sections find theirs by the same constructors (an identical variant is
    the same key of the trained models)."""
    variants = [exercise_deepset(s), exercise_mlp(s), affine_deepset(s), *sweep_variants(s)]
    if s.extras:  # set sizes, pooling with an affine phi, learned phi, latent widths
        variants += [*poolings(s), mixed_deepset(s), *poolings(s, None), *latent_variants(s)]
    for v in variants:
        plan.declare(v)


def check(settings: StudySettings) -> StudySettings:
    """`resolve` the settings, then refuse a run whose memory (`memory_needs`) would not fit,
    naming its flags: the study's check, before any work."""
    s = resolve(settings)
    check_needs(s, sweep_needs(s))  # first: a sweep too deep is refused before it is declared
    check_needs(s, memory_needs(s))
    return s


def sweep_needs(s: StudySettings) -> list[Need]:
    """The sweep's MLPs (question 7a) and their step's activations, from the widths and depths
    alone: an MLP of depth d and width w on the 10 objects has 10w + (d - 1)w^2 + w weights and
    dw + 1 biases (`variant_size` of its spec), and d x w units. Its specs spell every layer,
    so `--sweep-depths 1 100000000` would take minutes and gigabytes to declare."""
    shapes = [(w, d) for d in s.sweep_depths for w in s.sweep_widths] * len(s.sweep_activations)
    params = [10 * w + (d - 1) * w * w + w + d * w + 1 for w, d in shapes]
    fields = ("seeds", "sweep_widths", "sweep_depths")
    units = sum(w * d for w, d in shapes)
    copies = s.seeds * len(checkpoints(s.steps))
    return [
        models_need("the sweep's MLPs", copies, params, fields),
        activations_need("the sweep's activations", s.seeds, s.batch_size, 1, units,
                         ("batch_size", *fields)),  # fmt: skip
    ]


def memory_needs(s: StudySettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): the
    plan's models (each seed's, and a copy at each earlier checkpoint of section 8b),
    their losses, a step's batches, the set-size section's test sets, the permuted copies."""
    plan = Plan()  # one seed's variants: the others' are alike
    declare(plan, s)
    sweep = set(sweep_variants(s))
    sizes = {v.name: variant_size(v) for v in plan.variants.values()}
    copies = s.seeds * len(checkpoints(s.steps))
    kinds = {
        ("the DeepSets", ("seeds", "hidden")): [n for n in sizes if n.startswith("deepset")],
        ("the exercise's MLP", ("seeds", "mlp_hidden")): ["mlp"],
        ("the sweep's MLPs", ("seeds", "sweep_widths", "sweep_depths")): [
            v.name for v in plan.variants.values() if v in sweep
        ],
    }
    needs = [models_need(what, copies, [sizes[n][0] for n in names], fields)
             for (what, fields), names in kinds.items()]  # fmt: skip
    needs.append(losses_need(s.seeds * len(sizes), s.steps, ("seeds", "steps")))
    units = sum(objects * width for _, objects, width in sizes.values())
    streams = s.seeds * (1 + any(v.set_sizes for v in plan.variants.values()))
    batches = data_bytes(min(s.steps, CHUNK) * s.batch_size * streams, MIXED[1])
    needs.append(Need("a step's batches", batches, ("batch_size", "seeds")))
    needs.append(activations_need("a step's activations", s.seeds, s.batch_size, 1, units,
                                  ("batch_size", "seeds")))  # fmt: skip
    tests = sum(data_bytes(s.test_size, n) for n in TEST_SIZES)
    tests += s.test_size * max(TEST_SIZES) * sizes["deepset"][2] * FLOAT
    needs.append(Need("the set-size section's test sets", tests, ("test_size",)))
    permuted = (s.permutations + 1) * PERMUTED_SETS * 10 * FLOAT * 2
    needs.append(Need("the invariance check's permuted sets", permuted, ("permutations",)))
    return needs


def variant_size(v: Variant) -> tuple[int, int, int]:
    """A variant's parameters, objects per input row (a DeepSet's phi sees each of the 10 or
    up to 20 objects, an MLP one flattened set) and hidden units per row, without building it."""
    o = dict(v.options)
    hidden: tuple[int, ...] = (o["hidden"],) if isinstance(o["hidden"], int) else o["hidden"]
    if v.constructor == "DeepSet":
        H, L = hidden[0], o["latent"]
        config = dict(in_features=1, hidden=H, latent=L, rho_hidden=H)
        return DeepSet.n_params(config), 10 if v.set_sizes is None else v.set_sizes[1], 3 * H + L
    units = sum(hidden)
    widths = (10, *hidden, 1)  # layer i maps widths[i] inputs (and a bias) to widths[i + 1]
    return sum(map(operator.mul, widths, widths[1:])) + units + 1, 1, units
