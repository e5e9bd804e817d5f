"""The study's settings: one frozen dataclass, one documented field each; `--help` is built from it.

The defaults reproduce the exercise: 4000 Adam steps at lr 1e-3 on fresh batches of 100 sets,
the 62-parameter DeepSet, the (20, 20) ReLU MLP, over 5 seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from deepsets.models.activation import check_activation
from deepsets.training import check_training_args


@dataclass(frozen=True)
class StudySettings:
    """Everything `run_study` needs; the defaults are the exercise's."""

    out: str | None = None
    """Output directory; default: a fresh runs/<timestamp> directory."""
    overwrite: bool = False
    """Replace an existing non-empty output directory."""
    seeds: int = 5
    """Independent runs (initialisation and data) of every model."""
    seed: int = 0
    """Base seed: run s of a model uses seed + s for its initialisation and data."""
    steps: int = 4000
    """Adam steps per model (the exercise: 4000)."""
    batch_size: int = 100
    """Sets per training batch (a fresh batch every step)."""
    lr: float = 1e-3
    """Adam learning rate."""
    hidden: int = 5
    """Hidden units of the DeepSet's phi and rho (the exercise: 5, giving 62 parameters)."""
    mlp_hidden: tuple[int, ...] = (20, 20)
    """Hidden widths of the exercise's MLP baseline."""
    mlp_activation: str = "relu"
    """Activation of the MLP baseline."""
    sweep_widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    """MLP widths of the parameter sweep (question 7a)."""
    sweep_depths: tuple[int, ...] = (1, 2)
    """MLP depths (hidden layers) of the parameter sweep."""
    sweep_activations: tuple[str, ...] = ("relu", "tanh")
    """MLP activations of the parameter sweep."""
    test_size: int = 10_000
    """Sets in the fixed held-out test set."""
    final_window: int = 200
    """Final loss = mean training loss over this many last steps."""
    permutations: int = 3
    """Random permutations in the invariance check (step 6)."""
    device: str = "auto"
    """auto, cpu or cuda."""
    threads: int | None = None
    """torch CPU threads during the study; default: 1, fastest for these tiny models."""
    workers: int = 2
    """Python threads sharing out the stacked models (fixed, so results match across machines)."""
    quick: bool = False
    """A small smoke test (seconds): replaces seeds, steps, sweep and test sizes with tiny ones."""
    extras: bool = True
    """The sections beyond the exercise (set sizes, pooling, latent width, learned phi)."""


QUICK = dict(
    seeds=2,
    steps=300,
    sweep_widths=(4, 16),
    sweep_depths=(1, 2),
    sweep_activations=("relu",),
    test_size=2000,
    final_window=50,
)


def resolve(settings: StudySettings) -> StudySettings:
    """Apply `quick` (small sizes for a smoke test) and validate the settings."""
    if settings.quick:
        settings = replace(settings, **QUICK)
    names = (
        "seeds",
        "steps",
        "batch_size",
        "hidden",
        "test_size",
        "final_window",
        "permutations",
        "workers",
    )
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    check_training_args(settings.steps, settings.batch_size, settings.lr)
    if settings.threads is not None and (
        not isinstance(settings.threads, int) or settings.threads < 1
    ):
        raise ValueError(f"threads must be a positive integer or None, got {settings.threads!r}")
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or settings.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {settings.seed!r}")
    for name in ("mlp_hidden", "sweep_widths", "sweep_depths"):
        value = getattr(settings, name)
        if not value or any(not isinstance(v, int) or v < 1 for v in value):
            raise ValueError(f"{name} must be positive integers, got {value!r}")
    for a in (settings.mlp_activation, *settings.sweep_activations):
        check_activation(a, "activation")
    if settings.final_window > settings.steps:
        raise ValueError(
            f"final_window ({settings.final_window}) must not exceed steps ({settings.steps})"
        )
    return settings


def sweep_architectures(settings: StudySettings) -> list[dict]:
    """The MLPs of question 7a: every (depth, width, activation), as make_mlp keyword dicts."""
    return [
        {"hidden": (w,) * d, "activation": a}
        for a in settings.sweep_activations
        for d in settings.sweep_depths
        for w in settings.sweep_widths
    ]


def field_docs() -> dict[str, str]:
    """Field name -> its one-line doc, read from this module's source (for `--help`)."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StudySettings")
    docs, last = {}, None
    for node in cls.body:
        if isinstance(node, ast.AnnAssign):
            last = node.target.id
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and last:
            docs[last] = node.value.value
            last = None
    return docs


__all__ = ["StudySettings", "resolve", "sweep_architectures", "field_docs"]
