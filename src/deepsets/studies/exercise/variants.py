"""The study's models as specs: a `Variant` is a name, the constructor's name and its
arguments, and the set sizes it trains on; `Declarations` holds the variants the sections
declare, by name.

A variant is plain data, so the study's check can count every declared model's parameters
(`check.memory_needs`) without building one and without torch; `Variant.build` builds the model
(`plan.Plan` trains them). Declaring an identical variant twice shares its models; a name reused
with another spec is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from deepsets.studies.exercise.settings import StudySettings

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Variant:
    """One architecture of the study, trained once per seed."""

    name: str
    """Its name in file names (weights/<name>-seed<s>.safetensors) and logs."""
    constructor: Literal["DeepSet", "make_mlp"]
    """The name of its constructor in `deepsets.models`, called with `options` and
    `generator=seed`."""
    options: tuple[tuple[str, Any], ...]
    """The constructor's keyword arguments, as sorted (name, value) pairs."""
    set_sizes: tuple[int, int] | None = None
    """Train on sets of lo..hi objects (zero-padded, masked); None: sets of 10."""

    def build(self, seed: int, device: torch.device) -> nn.Module:
        """A fresh model whose initial weights are drawn from `seed` (this loads the models,
        and torch, on first use: the spec itself needs neither)."""
        from deepsets.models import DeepSet, make_mlp

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
    # each distinct width spelled once: a sweep of depth 10^6 (refused by the check, which
    # names its 12 MLPs first) takes 0.035 s a name instead of 0.15 s with str() per layer
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


class Declarations:
    """The variants a study's sections declare, by name, before any model is built."""

    def __init__(self) -> None:
        self.variants: dict[str, Variant] = {}

    def declare(self, variant: Variant) -> Variant:
        """Add `variant` (or find the identical one already declared) and return it."""
        known = self.variants.setdefault(variant.name, variant)
        if known != variant:
            raise ValueError(
                f"variant name {variant.name!r} is already declared with another spec: "
                f"{known} vs {variant}"
            )
        return variant


@dataclass(frozen=True)
class Poolings:
    """One DeepSet with each of the three poolings."""

    sum_pooling: Variant
    mean_pooling: Variant
    max_pooling: Variant


def declare_poolings(
    plan: Declarations, s: StudySettings, activation: str | None = "tanh"
) -> Poolings:
    """Declare the DeepSet of `activation` with sum, mean and max pooling."""
    return Poolings(
        *(
            plan.declare(deepset_variant(s.hidden, activation=activation, pooling=p))
            for p in ("sum", "mean", "max")
        )
    )
