"""How large the package's data and models are, in pure Python: bytes per set and object of
each task, the tasks' dimensions, parameter counts of the model families.

A study estimates its memory from these before any work (`deepsets.lab.memory`), and they
import neither torch nor numpy, so that a refused flag costs no second of loading torch. The
modules that make the data and build the models read the same constants from here (and keep
their public names: `deepsets.tasks.digits.PIXELS`, `DeepSet.n_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# ---- the exercise's data (deepsets.data)
# Peak memory of making data, measured with ru_maxrss for 2e6 sets of 10 and 100 objects:
# 20-22.5 bytes per object (keys, their argsort, values, X); labels add a few per set.
BYTES_PER_OBJECT, BYTES_PER_SET = 24, 32
CHUNK = 250  # batches made per generator call: the per-call overhead is paid once per chunk


def data_bytes(n_sets: int, n_objects: int) -> int:
    """The peak bytes of making `n_sets` sets of `n_objects` objects (measured, above)."""
    return n_sets * (n_objects * BYTES_PER_OBJECT + BYTES_PER_SET)


# ---- the digit sums (deepsets.tasks.digits)
PIXELS = 64  # P: an 8x8 image, flattened
IMAGE_BYTES = PIXELS * 4 + 9  # per object of an image set: float32 pixels, index and mask
SIDE = 8  # an image is SIDE x SIDE pixels (P = SIDE**2), row by row

# ---- the Set Transformer's benchmarks (deepsets.tasks.attention)
MIXTURE_DIM = 2  # the points' dimension (the module's DIM)
MAX_BYTES = 5  # per object of a max-regression set: its float32 value and its mask
MIXTURE_BYTES = 4 * MIXTURE_DIM * 2 + 9  # per point of a mixture set: coordinates, scratch, mask

# ---- the population statistics (deepsets.tasks.popstats)
POPSTATS_TASKS = ("rotation", "correlation", "rank1", "random")  # the module's TASKS
SAMPLES = 512  # M: samples per set in the released code (the paper's text: 300 to 500)
TEST_SETS = 512  # test (and validation) sets per task in the released code
TRAIN_SIZES = tuple(2**k for k in range(7, 18))  # N: the code's training sizes, 2^7 to 2^17
HALF = 16  # k of `correlation`: S is k x k, a sample has 2k coordinates
POPSTATS_DIM = 32  # d of `rank1` and `random` (the module's DIM)
DIMENSIONS = {"rotation": 2, "correlation": 2 * HALF, "rank1": POPSTATS_DIM,
              "random": POPSTATS_DIM}  # D per task  # fmt: skip


def population_bytes(n_sets: int, samples: int, D: int) -> int:
    """The bytes of `n_sets` sets of `samples` samples of D features: float32 samples and
    each set's float64 covariance."""
    return n_sets * samples * D * 4 + n_sets * D * D * 8


# ---- the theory study's tasks (deepsets.tasks.theory)
THEORY_BYTES_PER_OBJECT = 16  # X, its mask and the scratch of making them (the module's
# BYTES_PER_OBJECT), per object of a set

# ---- the models
POPSTATS_PHI = (50, 100, 50)  # phi's widths after the input (the code's feature_extractor)
POPSTATS_RHO = (30, 30, 10, 1)  # rho's widths after the latent (the code's regressor)


def deepset_params(config: Mapping[str, Any]) -> int:
    """Weights and biases of a `DeepSet` built from integer widths (`config`: in_features,
    hidden, latent, rho_hidden), counted without building it: `DeepSet.n_params`."""
    F, H, L, R = (config[k] for k in ("in_features", "hidden", "latent", "rho_hidden"))
    return int((F + 1) * H + (H + 1) * H + (H + 1) * L + (L + 1) * R + (R + 1))
