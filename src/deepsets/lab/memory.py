"""A study's peak memory, estimated from its settings before any work, refused by its flags.

Each study's check lists the large things its run will hold (`Need`: what, about how many
bytes, and the settings that size it) and calls `check_needs`. If their sum is over the
package's one limit (`deepsets.checks.memory_limit`), the run is refused before any work,
naming the flags of the largest need as they are typed (`--test-size 1000000000`). The
estimates count what grows with the settings (sets, weights and optimiser state, activations,
losses, model objects), not what every run loads (libraries, figures, the report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from deepsets.checks import ACTIVATION_FLOATS, check_memory, format_bytes

FLOAT = 4  # bytes of a float32, the studies' dtype
# The Python and torch objects of one small model, whatever its size: measured 35 KiB for the
# exercise's DeepSet and 16 KiB for its MLP (RSS of 5,000 built models); rounded up for the
# engine's stacked copy and a snapshot.
MODEL_BYTES = 64 * 2**10
# Floats held per trained parameter: the weight, its gradient, Adam's two moments, and the
# engine's stacked copy of the weight and its gradient.
TRAINED_FLOATS = 6
LOSS_BYTES = 16  # per model and step: the loss history the engine keeps (as run_engine's check)


@dataclass(frozen=True)
class Need:
    """One large thing a study's run holds, estimated from its settings."""

    what: str
    """What it is, for the message: "the set-size section's test sets"."""
    n_bytes: float
    """About how many bytes it takes."""
    fields: tuple[str, ...]
    """The settings that size it, named in the message as their flags."""


def models_need(what: str, copies: float, params: Iterable[float], fields: tuple[str, ...]) -> Need:
    """`copies` of a set of trained models with `params` parameters each (one entry per model):
    their objects and their weights with optimiser state."""
    per_set = sum(MODEL_BYTES + TRAINED_FLOATS * FLOAT * p for p in params)
    return Need(what, copies * per_set, fields)


def losses_need(n_models: float, steps: float, fields: tuple[str, ...]) -> Need:
    """The loss histories of `n_models` models over `steps` steps each."""
    return Need("the training losses", n_models * steps * LOSS_BYTES, fields)


def activations_need(
    what: str, n_models: float, batch: float, objects: float, units: float, fields: tuple[str, ...]
) -> Need:
    """One training step of `n_models` models on `batch` sets of `objects` objects, each
    object passing through `units` hidden units (summed over the layers)."""
    return Need(what, n_models * batch * objects * units * ACTIVATION_FLOATS * FLOAT, fields)


def largest(values: Mapping[str, float]) -> str:
    """The field whose value is the largest of `values` (field -> a size it sets): the one to
    name when a need grows with the largest of several."""
    return max(values, key=lambda f: values[f])


def flag(name: str, value: object) -> str:
    """("train_sizes", (0, 0)) -> "--train-sizes 0 0", the way a user types it."""
    values = value if isinstance(value, tuple | list) else (value,)
    return " ".join(["--" + name.replace("_", "-"), *map(str, values)])


def check_needs(settings: object, needs: Iterable[Need]) -> None:
    """A ValueError before any work if the needs of a run with `settings` add up to more than
    the memory limit; it names the flags (with their values) of the largest need."""
    needs = list(needs)
    total = sum(n.n_bytes for n in needs)
    if not needs or total <= 0:
        return
    worst = max(needs, key=lambda n: n.n_bytes)
    given = "".join(f" {flag(f, getattr(settings, f))}" for f in worst.fields)
    check_memory(
        total, f"the run with{given} ({worst.what}: about {format_bytes(worst.n_bytes)} of it)"
    )
