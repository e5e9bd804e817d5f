"""The model families the engine knows: each one's stacked form and cost.

`families.deepset` (DeepSets of Linear layers), `families.mlp` (`make_mlp` networks) and
`families.module` (any other module, alone, through autograd). A model belongs to the first
family whose `key` admits it; models with equal keys (and one dtype and device) train as one
stack. A model with a tie (a weight used in two places: a Linear used twice, phi is rho) trains
alone through its own forward, which uses the one weight in both places as the plain loop
does; a stack would train each use as its own copy. `stack_models` forms the stacks; `cost`
estimates a model's step for sharing the stacks out over workers (engine/parts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

from deepsets.engine.families.deepset import StackedDeepSet
from deepsets.engine.families.layers import Key, Stack
from deepsets.engine.families.mlp import StackedMLP
from deepsets.engine.families.module import ModuleStack
from deepsets.models.deepset import DeepSet

FAMILIES = (StackedDeepSet, StackedMLP)  # tried in order; anything else is a ModuleStack

__all__ = ["FAMILIES", "Key", "ModuleStack", "Stack", "StackedDeepSet", "StackedMLP"]


def stack_key(model: nn.Module) -> Key:
    """Models with equal keys train as one stack; a key naming no family means alone."""
    p = next(model.parameters(), None)
    where = (None, None) if p is None else (p.dtype, p.device)
    uses = len(list(model.named_parameters(remove_duplicate=False)))
    if all(q.requires_grad for q in model.parameters()) and uses == len(list(model.parameters())):
        for family in FAMILIES:
            key = family.key(model)
            if key is not None:
                return (family, *where, key)
    return (ModuleStack, id(model))


def cost(model: nn.Module, B: int, N: int) -> tuple[int, int]:
    """(activation values, multiply-adds x 2) of `model`'s Linear layers a step, forward only,
    on batches of B sets of N objects: any DeepSet's phi runs on all B * N objects (its
    family's estimate, whether stacked or not), everything else on the B sets."""
    if isinstance(model, DeepSet):
        return StackedDeepSet.cost(model, B, N)
    return ModuleStack.cost(model, B, N)


def twin(stack: Stack, models: Sequence[nn.Module]) -> Stack:
    """A stack of the same family over `models` (copies of its members, in its order)."""
    return type(stack)(models)  # type: ignore[call-arg]


def grouped(models: Sequence[nn.Module]) -> list[tuple[Callable[..., Stack], list[int]]]:
    """Which models train as one stack: each stack's family and its members' indices in
    `models`, stacks in input order."""
    groups: dict[Key, list[int]] = {}
    for i, m in enumerate(models):
        groups.setdefault(stack_key(m), []).append(i)
    return [(key[0], index) for key, index in groups.items()]  # type: ignore[misc]


def stack_models(models: Sequence[nn.Module]) -> list[tuple[Stack, list[int]]]:
    """Group models into stacks: (stack, the index of each member in `models`), input order."""
    return [(family([models[i] for i in index]), index) for family, index in grouped(models)]
