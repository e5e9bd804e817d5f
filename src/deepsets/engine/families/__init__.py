"""The model families the engine knows: each one's stacked form and cost.

`families.deepset` (DeepSets of Linear layers), `families.mlp` (`make_mlp` networks) and
`families.module` (any other module, alone, through its own forward). Models with equal keys
(and one dtype and device) train as one stack; a model with a tie (one weight in two places)
trains alone, as a stack would train each use as its own copy. `cost` estimates a step.
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
    """(activation values, flops) of `model`'s Linear layers a step on B sets of N objects."""
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
