"""The DeepSet: rho(pool_i phi(x_i)), invariant to the order of the objects by construction.

Shape letters: B sets, N objects, F features per object, H hidden units, L latent features.

`DeepSet()` is the exercise's network, built from integer widths; `DeepSet(phi=..., rho=...)`
takes any modules instead (as PyG's `DeepSetsAggregation(local_nn, global_nn)` does): phi maps
each object's features (B, N, ...) to (B, N, L), rho maps the pooled (B, L) to the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deepsets.checks import check_memory, positive_int
from deepsets.models.activation import check_activation, dense
from deepsets.models.pooling import check_mask, check_pooling, pool
from deepsets.models.seeding import seeded_init

OUTPUTS = ("sigmoid", None)
WIDTHS = dict(
    hidden=5, activation="tanh", latent=1, rho_hidden=None, rho_activation="tanh",
    in_features=1, output="sigmoid",
)  # fmt: skip  # the integer form's defaults: the exercise's network


def check_output(output: object) -> str | None:
    """`output` if it is one of OUTPUTS, else a ValueError naming them."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be 'sigmoid' or None, got {output!r}")
    return output


class DeepSet(nn.Module):
    """A DeepSet for binary classification of sets, as in the exercise, or for regression.

    `phi` maps each object R^F -> R^L through two hidden layers of `hidden` units;
    the objects are pooled (sum by default); `rho` maps R^L -> (0, 1) through one hidden
    layer and a sigmoid. The defaults give the exercise's 62-parameter network.

    Arguments:
        hidden: hidden units per layer of `phi` (and of `rho` unless `rho_hidden` is given).
        activation: nonlinearity of `phi` ("tanh", "relu", ...); None makes `phi` affine.
        latent: L, the width of phi's output and rho's input.
        pooling: "sum", "mean" or "max".
        rho_hidden: hidden units of `rho` (default: `hidden`).
        rho_activation: nonlinearity of rho's hidden layer.
        in_features: F, features per object.
        output: "sigmoid" (a probability, the default) or None (rho ends with its Linear: a
            real number, for regression).
        generator: a torch.Generator or integer seed for the initial weights; the same seed
            gives the same weights. None draws from torch's global generator, as nn.Linear does.
        phi, rho: modules to use instead of the ones the widths describe (both or neither;
            then the widths, `output` and `generator` are not given): phi (B, N, ...) ->
            (B, N, L) on every object, rho (B, L) -> (B, *O). `config` is then None. The
            engine stacks it when both are nn.Sequentials of Linear layers and activations and
            rho ends with one unit, else trains it alone through autograd; `save_model` saves
            it when phi and rho are built of package modules (`deepsets.weights.MODULES`) and
            refuses, naming the module, otherwise (save its state_dict instead).
    """

    def __init__(
        self,
        hidden: int = 5,
        activation: str | None = "tanh",
        *,
        latent: int = 1,
        pooling: str = "sum",
        rho_hidden: int | None = None,
        rho_activation: str | None = "tanh",
        in_features: int = 1,
        output: str | None = "sigmoid",
        generator: torch.Generator | int | None = None,
        phi: nn.Module | None = None,
        rho: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self._pooling = check_pooling(pooling)
        self.config: dict[str, Any] | None = None  # the integer form's widths, for saving
        if phi is not None or rho is not None:
            widths = dict(hidden=hidden, activation=activation, latent=latent,
                          rho_hidden=rho_hidden, rho_activation=rho_activation,
                          in_features=in_features, output=output)  # fmt: skip
            self.phi, self.rho = check_modules(phi, rho, widths, generator)
            return
        self.config = dict(
            hidden=positive_int(hidden, "hidden"),
            activation=check_activation(activation),
            latent=positive_int(latent, "latent"),
            pooling=self._pooling,
            rho_hidden=positive_int(hidden if rho_hidden is None else rho_hidden, "rho_hidden"),
            rho_activation=check_activation(rho_activation, "rho_activation"),
            in_features=positive_int(in_features, "in_features"),
            output=check_output(output),
        )
        c = self.config
        size = ", ".join(f"{k}={c[k]}" for k in ("hidden", "latent", "rho_hidden", "in_features"))
        check_memory(self.n_params(c) * torch.get_default_dtype().itemsize, f"DeepSet({size})")
        with seeded_init(generator):  # phi's layers first, then rho's: one stream of draws
            self.phi = nn.Sequential(
                *dense([c["in_features"], c["hidden"], c["hidden"], c["latent"]], c["activation"])
            )
            last = [nn.Sigmoid()] if c["output"] == "sigmoid" else []
            self.rho = nn.Sequential(
                *dense([c["latent"], c["rho_hidden"], 1], c["rho_activation"]), *last
            )

    @staticmethod
    def n_params(config: Mapping[str, Any]) -> int:
        """Weights and biases of a DeepSet built from integer widths (`config`: in_features,
        hidden, latent, rho_hidden), counted without building it (the studies' checks)."""
        F, H, L, R = (config[k] for k in ("in_features", "hidden", "latent", "rho_hidden"))
        return int((F + 1) * H + (H + 1) * H + (H + 1) * L + (L + 1) * R + (R + 1))

    @property
    def pooling(self) -> str:
        return self._pooling

    def check_input(self, X: torch.Tensor) -> None:
        """Raise a clear error unless X is a tensor of sets (B, N, ...); for the integer form, a
        float tensor of shape (B, N, F) of the weights' dtype."""
        if self.config is None:
            if not isinstance(X, torch.Tensor) or X.dim() < 2:
                what = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
                raise ValueError(f"DeepSet expects X a tensor of sets (B, N, ...), got {what}")
            return
        F = self.config["in_features"]
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"DeepSet expects X a torch.Tensor of shape (B, N, {F}), got {type(X)}")
        if X.dim() != 3 or X.shape[-1] != F:
            raise ValueError(
                f"DeepSet expects X of shape (B, N, {F}) (sets, objects, features), "
                f"got {tuple(X.shape)}"
            )
        if not X.is_floating_point():
            raise TypeError(f"DeepSet expects X floating-point, got {X.dtype}")
        dtype = next(self.phi.parameters()).dtype
        if X.dtype != dtype:
            raise TypeError(
                f"DeepSet expects X of dtype {dtype} like its weights, got {X.dtype} "
                f"(use X.to({dtype}) or model.to({X.dtype}))"
            )

    def embed(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled representation pool_i phi(x_i): X (B, N, F) -> (B, L)."""
        self.check_input(X)
        mask = check_mask(mask, X)
        h = self.phi(X)  # (B, N, L)
        return pool(h, mask, self.pooling)  # (B, L)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Class-1 probabilities (or real outputs): X (B, N, F), mask (B, N) or None -> (B, 1)
        (for user modules: (B, *O), whatever rho gives)."""
        p: torch.Tensor = self.rho(self.embed(X, mask))  # (B, 1)
        return p


def check_modules(
    phi: object, rho: object, widths: Mapping[str, object], generator: object
) -> tuple[nn.Module, nn.Module]:
    """phi and rho if both are modules and no width describes them too; else a clear error."""
    for name, m in (("phi", phi), ("rho", rho)):
        if not isinstance(m, nn.Module):
            raise TypeError(
                f"{name} must be a torch.nn.Module (phi and rho are given together), "
                f"got {type(m).__name__}"
            )
    given = sorted(k for k, v in widths.items() if v != WIDTHS[k])
    if given or generator is not None:
        raise ValueError(
            "a DeepSet takes either widths or modules phi and rho: with phi and rho, leave "
            f"{', '.join(given or ['generator'])} out (seed the modules where they are built)"
        )
    assert isinstance(phi, nn.Module) and isinstance(rho, nn.Module)
    return phi, rho
