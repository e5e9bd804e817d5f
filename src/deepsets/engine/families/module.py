"""The generic family: any other nn.Module, trained alone through its own forward and autograd.

Shape letters: B sets, N objects, F features, *O the shape of one set's outputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call

from deepsets.engine.families.layers import linear_rows


class ModuleStack:
    """Any other nn.Module, alone (K = 1), through its own forward with the trained weights,
    swapped in per slot (a module's attribute), not per name: a tied weight fills both of its
    slots (torch.func's `tie_weights=True` would leave parameters views of the engine's)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        (model,) = models
        self.models = [model]
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]  # distinct
        own = dict(model.named_parameters())
        index = {id(own[n]): k for k, n in enumerate(self.names)}  # weight -> its place
        slots: dict[tuple[int, str], tuple[str, int]] = {}  # (module, attribute) -> name, weight
        for name, p in model.named_parameters(remove_duplicate=False):
            path, _, attr = name.rpartition(".")
            if id(p) in index:
                slots.setdefault((id(model.get_submodule(path)), attr), (name, index[id(p)]))
        self.slots = list(slots.values())  # (a name of the slot, its weight's place in names)

    @staticmethod
    def cost(model: nn.Module, B: int, N: int) -> tuple[int, int]:
        """(activation values, flops) a step, estimated from the Linear layers on B rows."""
        return linear_rows(model, B)

    def init(self) -> list[torch.Tensor]:
        params = dict(self.models[0].named_parameters())
        return [params[n].detach().unsqueeze(0) for n in self.names]  # each (1, ...)

    def forward(
        self, params: Iterator[torch.Tensor], X: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        trained = [next(params)[0] for _ in self.names]
        weights = {name: trained[k] for name, k in self.slots}
        args = (X[0],) if mask is None else (X[0], mask[0])  # (B, N, F), (B, N)
        p: torch.Tensor = functional_call(
            self.models[0], weights, args, tie_weights=False, strict=False
        )  # (B, *O)
        return (p[:, 0] if p.shape[1:] == (1,) else p).unsqueeze(0)  # (1, B) or (1, B, *O)

    @torch.no_grad()
    def write_back(self, params: Iterator[torch.Tensor]) -> None:
        own = dict(self.models[0].named_parameters())
        for n in self.names:
            own[n].copy_(next(params)[0])
