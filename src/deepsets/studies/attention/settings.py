"""The attention study's settings: one frozen dataclass, a docstring per field (its `--help`).

The defaults: the paper's models and losses (Lee et al. 2019) with fewer steps, ending in a
phase at a tenth of the learning rate, and smaller clustering training sets, to fit a 2-core
CPU (docs/studies/attention.md). `--paper` switches to the paper's schedule; `--quick` to a
smoke test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsets.checks import check_sizes
from deepsets.lab.memory import (
    Need,
    activations_need,
    check_needs,
    largest,
    losses_need,
    models_need,
)
from deepsets.lab.settings import CommonSettings, check_common, check_positive, preset
from deepsets.studies.attention.tasks import DIM, MAX_BYTES, MIXTURE_BYTES

CHUNK = 100  # datasets per clustering test pass (train.py): bounds SAB's attention over 500

# The models of both tables, (encoder, pooling) each (train.py builds them); the widths and
# depths come from the settings below.
MAX_MODELS = {
    "mean": ("rff", "mean"),
    "sum": ("rff", "sum"),
    "max": ("rff", "max"),
    "sab_pma": ("sab", "pma"),
}
CLUSTER_MODELS = {
    "rff_pool": ("rff", "mean"),
    "sab_pool": ("sab", "mean"),
    "rff_pma": ("rff", "pma"),
    "sab_pma": ("sab", "pma"),
    "isab_pma": ("isab", "pma"),
}


@dataclass(frozen=True)
class AttentionSettings(CommonSettings):
    """Everything `run_attention` needs; the defaults are the full study (~1,350 CPU-s)."""

    seeds: int = 3
    """Runs of every model, differing in initial weights and batch order (one training set)."""
    paper: bool = False
    """The paper's schedule: 20,000 / 50,000 steps, 100-500 training points; explicit flags win."""
    max_steps: int = 3000
    """Adam steps of every max-regression model (the paper: 20,000)."""
    max_fine_steps: int = 1000
    """Of those, the last ones at lr / 10 (a second phase, a fresh Adam; 0: none)."""
    max_batch: int = 128
    """Sets per max-regression step (the paper: 128)."""
    max_train_sets: int = 100_000
    """Max-regression training sets, shared by every run."""
    max_test_sets: int = 10_000
    """Max-regression test sets, the same for every model and run."""
    max_sizes: tuple[int, int] = (1, 10)
    """Smallest and largest max-regression set (the paper: 1-10)."""
    max_dim: int = 64
    """Width of every max-regression layer and block (the paper: 64)."""
    cl_steps: int = 4000
    """Adam steps of every clustering model (the paper: 50,000)."""
    cl_fine_steps: int = 1200
    """Of those, the last ones at lr / 10 (the paper: 15,000, from step 35,000; 0: none)."""
    cl_batch: int = 10
    """Datasets per clustering step (the paper: 10)."""
    cl_train_sets: int = 5000
    """Clustering training datasets, shared by every run."""
    cl_train_sizes: tuple[int, int] = (50, 100)
    """Smallest and largest training dataset (the paper: 100-500; smaller fits the budget)."""
    cl_test_sets: int = 1000
    """Clustering test datasets, the same for every model and run (and the oracle)."""
    cl_sizes: tuple[int, int] = (100, 500)
    """Smallest and largest test dataset (the paper's text: 100-500)."""
    components: int = 4
    """k, the mixture components of every dataset and the PMA's seeds (the paper: 4)."""
    cl_dim: int = 64
    """Width of every clustering layer and block."""
    heads: int = 4
    """Attention heads of every attention block (both widths must be multiples)."""
    inducing: int = 16
    """Inducing points of each ISAB (the paper: 16)."""
    rff_blocks: int = 4
    """Linear layers of an rFF encoder (the paper: 4)."""
    attention_blocks: int = 2
    """SABs / ISABs of an attention encoder (the paper: 2)."""
    pool_decoder: int = 3
    """FC(D, ReLU) layers after a mean pooling in clustering (max regression: 1)."""
    pma_decoder: int = 1
    """SABs among the k outputs after PMA in clustering (max regression: 0)."""
    lr: float = 1e-3
    """Adam's learning rate of the first phase (the paper: 1e-3)."""


QUICK: dict[str, Any] = dict(
    seeds=2,
    max_steps=30,
    max_fine_steps=10,
    max_train_sets=500,
    max_test_sets=200,
    max_dim=16,
    cl_steps=12,
    cl_fine_steps=4,
    cl_train_sets=50,
    cl_train_sizes=(10, 20),
    cl_test_sets=12,
    cl_sizes=(20, 40),
    cl_dim=16,
    inducing=4,
)
"""The defaults `--quick` changes; every other field keeps its own."""

PAPER: dict[str, Any] = dict(
    max_steps=20_000,
    max_fine_steps=0,
    cl_steps=50_000,
    cl_fine_steps=15_000,
    cl_train_sets=20_000,
    cl_train_sizes=(100, 500),
)
"""The paper's schedule (`--paper`): the fields it changes where they are left at their
defaults (the paper trains on fresh sets each step; 20,000 datasets here, ~250 MB)."""


def quick_settings(**overrides: Any) -> AttentionSettings:
    """The quick run: QUICK's values and quick=True, then `overrides` (explicit settings win)."""
    return AttentionSettings(**{**QUICK, "quick": True, **overrides})


POSITIVE = (
    "max_steps", "max_batch", "max_train_sets", "max_test_sets", "max_dim", "cl_steps",
    "cl_batch", "cl_train_sets", "cl_test_sets", "components", "cl_dim", "heads", "inducing",
    "rff_blocks", "attention_blocks",
)  # fmt: skip
"""The fields that must be positive integers."""


def resolve(settings: AttentionSettings) -> AttentionSettings:
    """Check every field (a ValueError naming the first bad one); the settings to run, with
    `--paper`'s schedule applied."""
    if not isinstance(settings, AttentionSettings):
        raise TypeError(f"settings must be an AttentionSettings, got {settings!r:.80}")
    check_common(settings, ("paper",))
    if settings.paper and settings.quick:
        raise ValueError("paper and quick exclude each other: choose --paper or --quick")
    s = preset(settings, PAPER) if settings.paper else settings
    zero = ("pool_decoder", "pma_decoder", "max_fine_steps", "cl_fine_steps")
    check_positive(s, POSITIVE, zero, ("lr",))
    for steps, fine in (("max_steps", "max_fine_steps"), ("cl_steps", "cl_fine_steps")):
        if getattr(s, fine) >= getattr(s, steps):
            raise ValueError(
                f"{fine} must be smaller than {steps} (they are its last steps), got "
                f"{getattr(s, fine)} >= {getattr(s, steps)}"
            )
    for name in ("max_sizes", "cl_train_sizes", "cl_sizes"):
        sizes(s, name)
    for dim in ("max_dim", "cl_dim"):
        if getattr(s, dim) % s.heads:
            raise ValueError(f"{dim} must be a multiple of heads, got {getattr(s, dim)}, {s.heads}")
    check_needs(s, memory_needs(s))
    return s


def memory_needs(s: AttentionSettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): both
    tasks' training and test sets, the models of both tables and their losses, a training step
    of each task and the clustering test's forward passes (SAB attends over all N^2 pairs)."""
    max_hi, train_hi, test_hi = s.max_sizes[1], s.cl_train_sizes[1], s.cl_sizes[1]
    blocks = s.rff_blocks + 5 * (s.attention_blocks + 1 + s.pma_decoder) + s.pool_decoder
    n_max, n_cl = s.seeds * len(MAX_MODELS), s.seeds * len(CLUSTER_MODELS)
    max_params = blocks * s.max_dim**2  # an attention block: 5 D x D layers (q, k, v, o, ff)
    cl_params = blocks * s.cl_dim**2 + (s.inducing + s.components) * s.cl_dim
    # per object and step: a width's worth of floats per layer, a row of attention per head
    max_units = blocks * s.max_dim + s.heads * max_hi * s.attention_blocks
    cl_units = blocks * s.cl_dim + s.heads * (train_hi + s.inducing) * s.attention_blocks
    # a test pass has no backward: one block's attention matrices and a width of each layer
    test_pass = CHUNK * test_hi * (s.heads * (test_hi + s.inducing) * 2 + blocks * s.cl_dim) * 4
    mixture = s.components * (1 + 2 * DIM + 2) * 8  # a set's weights, means, scales, scratch
    steps = max(s.max_steps, s.cl_steps)
    depth = (largest({"rff_blocks": s.rff_blocks, "attention_blocks": 5 * s.attention_blocks}),)
    return [
        Need("the max-regression sets", (s.max_train_sets + s.max_test_sets) * max_hi * MAX_BYTES,
             ("max_train_sets", "max_test_sets", "max_sizes")),
        Need("the clustering training sets", s.cl_train_sets * (train_hi * MIXTURE_BYTES + mixture),
             ("cl_train_sets", "cl_train_sizes", "components")),
        Need("the clustering test sets", s.cl_test_sets * (test_hi * MIXTURE_BYTES + mixture),
             ("cl_test_sets", "cl_sizes", "components")),
        models_need("the max-regression models", n_max, [max_params], ("seeds", "max_dim", *depth)),
        models_need("the clustering models", n_cl, [cl_params],
                    ("seeds", "cl_dim", "inducing", "components", *depth)),
        losses_need(n_max + n_cl, steps, ("seeds", "max_steps" if steps == s.max_steps
                                          else "cl_steps")),
        activations_need("a max-regression step", n_max, s.max_batch, max_hi, max_units,
                         ("seeds", "max_batch", "max_sizes", "max_dim", *depth)),
        activations_need("a clustering step", n_cl, s.cl_batch, train_hi, cl_units,
                         ("seeds", "cl_batch", "cl_train_sizes", "cl_dim", "inducing", *depth)),
        Need("a clustering test pass", test_pass, ("cl_sizes", "cl_dim", "heads", "inducing")),
    ]  # fmt: skip


def sizes(s: AttentionSettings, name: str) -> tuple[int, int]:
    """Field `name` as (lo, hi) with 1 <= lo <= hi, else a ValueError naming it."""
    value = getattr(s, name)
    lo, hi = check_sizes(value, name)
    if lo < 1:
        raise ValueError(f"{name} must not allow empty sets, got {value!r}")
    return lo, hi
