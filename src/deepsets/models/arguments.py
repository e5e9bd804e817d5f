"""A model's constructor arguments, kept on the model so that `deepsets.weights` can rebuild it.

`@recorded` on a model's `__init__` keeps the arguments it was called with (defaults filled
in, `generator` left out: the weights are loaded, not drawn) as `model.arguments`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from torch import nn

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
            elif name != "generator":
                arguments[name] = value
        arguments.pop("generator", None)
        object.__setattr__(self, "arguments", arguments)  # last: the outermost class wins

    return cast(Init, wrapper)
