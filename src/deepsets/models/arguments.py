"""A model's constructor arguments, kept on the model so that `deepsets.weights` can rebuild it.

`@recorded` on a model's `__init__` keeps its arguments (defaults filled in, without
`generator`) as `model.arguments`, flat: a dataclass argument's fields (`SetModel`'s `layers`)
as arguments of their own, which `rebuild` groups back.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar, cast, get_type_hints

from torch import nn

from deepsets.checks import check_type

Init = TypeVar("Init", bound=Callable[..., None])


def recorded(init: Init) -> Init:
    """`init`, keeping its arguments as `self.arguments` (a dict; **kwargs flattened)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments: dict[str, Any] = {}
        for name, value in list(bound.arguments.items())[1:]:  # without self
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            elif is_dataclass(value) and not isinstance(value, type):
                arguments.update({f.name: getattr(value, f.name) for f in fields(value)})
            elif name != "generator":
                arguments[name] = value
        arguments.pop("generator", None)
        object.__setattr__(self, "arguments", arguments)  # last: the outermost class wins

    return cast(Init, wrapper)


def grouped(cls: type[nn.Module]) -> dict[str, Any]:
    """cls's arguments whose default is a dataclass (kept flat by `recorded`): name -> default."""
    params = inspect.signature(cls).parameters.items()
    return {
        n: p.default
        for n, p in params
        if is_dataclass(p.default) and not isinstance(p.default, type)
    }


def argument_names(cls: type[nn.Module]) -> set[str]:
    """The names `recorded` keeps for cls: its arguments, a dataclass one as its fields."""
    params = inspect.signature(cls).parameters
    names = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    for name, default in grouped(cls).items():
        names = (names - {name}) | {f.name for f in fields(default)}
    return names


def rebuild(cls: type[nn.Module], arguments: Mapping[str, Any]) -> nn.Module:
    """cls(**arguments) for arguments `recorded` kept, each dataclass's fields grouped back;
    each first checked against its annotation (a ValueError naming it, as a file is read)."""
    hints = get_type_hints(cls.__init__)
    for default in grouped(cls).values():
        hints.update(get_type_hints(type(default)))
    for name, value in arguments.items():
        check_type(value, hints.get(name, Any), name)
    rest = dict(arguments)
    for name, default in grouped(cls).items():
        rest[name] = replace(
            default, **{f.name: rest.pop(f.name) for f in fields(default) if f.name in rest}
        )
    return cls(**rest)
