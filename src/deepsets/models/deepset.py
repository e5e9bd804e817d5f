"""The DeepSet: rho(pool_i phi(x_i)), invariant to the order of the objects by construction.

Shape letters: B sets, N objects, F features per object, H hidden units, L latent features.

`DeepSet()` is the exercise's network, built from integer widths (rho's own in `Rho`);
`DeepSet(phi=..., rho=...)` takes any modules instead (as PyG's `DeepSetsAggregation(local_nn,
global_nn)` does): phi maps each object's features (B, N, ...) to (B, N, L), rho maps the pooled
(B, L) to the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepsets.checks import check_memory, positive_int
from deepsets.models.activation import check_activation, dense
from deepsets.models.pooling import check_mask, check_pooling, pool
from deepsets.models.seeding import seeded_init

OUTPUTS = ("sigmoid", None)
PHI_WIDTHS = dict(hidden=5, activation="tanh", latent=1, in_features=1)  # the exercise's phi


@dataclass(frozen=True)
class Rho:
    """The set-wide network a DeepSet builds from widths: L -> hidden -> 1, then `output`."""

    hidden: int | None = None
    """Units of its hidden layer (None: phi's `hidden`)."""
    activation: str | None = "tanh"
    """Nonlinearity of its hidden layer; None makes it affine."""
    output: str | None = "sigmoid"
    """"sigmoid" (a probability, the exercise's) or None (a real number, for regression)."""


RHO_KEYS = {"rho_hidden": "hidden", "rho_activation": "activation", "output": "output"}


def check_output(output: object) -> str | None:
    """`output` if it is one of OUTPUTS, else a ValueError naming them."""
    if output not in OUTPUTS:
        raise ValueError(f"rho's output must be 'sigmoid' or None, got {output!r}")
    return output


def widths_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """DeepSet's keyword arguments from flat widths (`DeepSet.config`, a file's keys)."""
    args = {k: v for k, v in config.items() if k not in RHO_KEYS}
    rho = {RHO_KEYS[k]: v for k, v in config.items() if k in RHO_KEYS}
    return {**args, "rho": Rho(**rho)} if rho else args


class DeepSet(nn.Module):
    """A DeepSet for binary classification of sets, as in the exercise, or for regression.

    `phi` maps each object R^F -> R^L through two hidden layers of `hidden` units;
    the objects are pooled (sum by default); `rho` maps R^L -> (0, 1) through one hidden
    layer and a sigmoid. The defaults give the exercise's 62-parameter network.

    Arguments:
        hidden: hidden units per layer of `phi` (and of `rho` unless `Rho.hidden` is given).
        activation: nonlinearity of `phi` ("tanh", "relu", ...); None makes `phi` affine.
        latent: L, the width of phi's output and rho's input.
        pooling: "sum", "mean" or "max".
        in_features: F, features per object.
        generator: a torch.Generator or integer seed for the initial weights; the same seed
            gives the same weights. None draws from torch's global generator, as nn.Linear does.
        phi, rho: modules to use instead of the widths (both, and then no width nor
            `generator`): phi (B, N, ...) -> (B, N, L) on every object, rho (B, L) -> (B, *O);
            `config` is then None, and `save_model` takes them only if built of package modules
            (`deepsets.weights.modules()`). With widths, rho may be a `Rho` (its hidden layer
            and output; `Rho(output=None)`: a real number, for regression).
    """

    def __init__(
        self,
        hidden: int = 5,
        activation: str | None = "tanh",
        *,
        latent: int = 1,
        pooling: str = "sum",
        in_features: int = 1,
        generator: torch.Generator | int | None = None,
        phi: nn.Module | None = None,
        rho: nn.Module | Rho | None = None,
    ) -> None:
        super().__init__()
        self._pooling = check_pooling(pooling)
        self.config: dict[str, Any] | None = None  # the integer form's widths, for saving
        if phi is not None or isinstance(rho, nn.Module):
            widths = dict(hidden=hidden, activation=activation, latent=latent,
                          in_features=in_features)  # fmt: skip
            self.phi, self.rho = check_modules(phi, rho, widths, generator)
            return
        self.config = config_of(hidden, activation, latent, self._pooling, in_features, rho)
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
        """Weights and biases of a DeepSet of widths `config`, counted without building it."""
        F, H, L, R = (config[k] for k in ("in_features", "hidden", "latent", "rho_hidden"))
        return int((F + 1) * H + (H + 1) * H + (H + 1) * L + (L + 1) * R + (R + 1))

    @property
    def pooling(self) -> str:
        return self._pooling

    def check_input(self, X: torch.Tensor) -> None:
        """A clear error unless X is a tensor of sets (B, N, ...) (of widths: float (B, N, F))
        whose floats have the dtype of phi's weights."""
        if self.config is None:
            if not isinstance(X, torch.Tensor) or X.dim() < 2:
                what = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
                raise ValueError(f"DeepSet expects X a tensor of sets (B, N, ...), got {what}")
        else:
            F = self.config["in_features"]
            if not isinstance(X, torch.Tensor):
                raise TypeError(f"DeepSet expects X a torch.Tensor (B, N, {F}), got {type(X)}")
            if X.dim() != 3 or X.shape[-1] != F:
                raise ValueError(
                    f"DeepSet expects X of shape (B, N, {F}) (sets, objects, features), "
                    f"got {tuple(X.shape)}"
                )
            if not X.is_floating_point():
                raise TypeError(f"DeepSet expects X floating-point, got {X.dtype}")
        w = next((p for p in self.phi.parameters() if p.is_floating_point()), None)
        if w is not None and X.is_floating_point() and X.dtype != w.dtype:  # tokens pass
            raise TypeError(
                f"DeepSet expects X of dtype {w.dtype} like its weights, got {X.dtype} "
                f"(use X.to({w.dtype}) or model.to({X.dtype}))"
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


def config_of(
    hidden: int, activation: str | None, latent: int, pooling: str, in_features: int, rho: object
) -> dict[str, Any]:
    """The integer form's widths, checked, flat (as `DeepSet.config` and files hold them)."""
    if rho is None:
        rho = Rho()
    if not isinstance(rho, Rho):
        raise TypeError(f"rho must be a torch.nn.Module or a Rho, got {type(rho).__name__}")
    H = positive_int(hidden, "hidden")
    return dict(
        hidden=H,
        activation=check_activation(activation),
        latent=positive_int(latent, "latent"),
        pooling=pooling,
        rho_hidden=H if rho.hidden is None else positive_int(rho.hidden, "rho.hidden"),
        rho_activation=check_activation(rho.activation, "rho.activation"),
        in_features=positive_int(in_features, "in_features"),
        output=check_output(rho.output),
    )


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
    given = sorted(k for k, v in widths.items() if v != PHI_WIDTHS[k])
    if given or generator is not None:
        raise ValueError(
            "a DeepSet takes either widths or modules phi and rho: with phi and rho, leave "
            f"{', '.join(given or ['generator'])} out (seed the modules where they are built)"
        )
    assert isinstance(phi, nn.Module) and isinstance(rho, nn.Module)
    return phi, rho
