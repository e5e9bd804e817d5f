"""The digit-sum study's settings: one frozen dataclass, a docstring per field (its `--help`).

The defaults follow the paper (Zaheer et al. 2017, section 4.1.1) where a 2-core CPU allows,
with a second, short phase at a tenth of the learning rate; the image DeepSet has its own,
longer schedule (`image_deepset_*`): its convolutional phi needs it (docs/studies/digits.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsets.checks import check_sizes, is_int, positive_ints
from deepsets.lab.memory import Need, activations_need, check_needs, losses_need, models_need
from deepsets.lab.settings import CommonSettings, check_common, check_positive
from deepsets.studies.digits.tasks import IMAGE_BYTES, PIXELS, SIDE

TASKS = ("text", "image")
MODELS = ("deepset", "lstm", "gru", "set_transformer", "counting_set_transformer")


@dataclass(frozen=True)
class DigitsSettings(CommonSettings):
    """Everything `run_digits` needs; the defaults are the full study (~10 minutes of CPU)."""

    seeds: int = 3
    """Runs of every model, differing in initial weights and batch order (one training set)."""
    train_sets: int = 100_000
    """Training sets, shared by every run (the paper: 100,000)."""
    train_sizes: tuple[int, int] = (1, 10)
    """Smallest and largest number of digits in a training set."""
    steps: int = 3000
    """Adam steps at `lr` of every model but the image DeepSet (its own: image_deepset_steps)."""
    lr: float = 1e-3
    """Adam's learning rate of the first phase."""
    fine_steps: int = 500
    """Adam steps of the second phase, at `fine_lr` (0: none)."""
    fine_lr: float = 1e-4
    """Adam's learning rate of the second phase."""
    image_deepset_steps: int = 14_000
    """Adam steps at `image_deepset_lr` of the image DeepSet."""
    image_deepset_lr: float = 2e-3
    """The image DeepSet's first learning rate."""
    image_deepset_fine_steps: int = 2000
    """The image DeepSet's steps of the second phase, at `image_deepset_fine_lr` (0: none)."""
    image_deepset_fine_lr: float = 1e-4
    """The image DeepSet's learning rate of the second phase."""
    max_shift: int = 1
    """The image DeepSet's training images moved once by up to this many pixels (0: none)."""
    batch_size: int = 32
    """Sets per step, drawn at random from the model's training sets."""
    lengths: tuple[int, ...] = tuple(range(5, 101, 5))
    """Numbers of digits of the test sets (the paper: 5, 10, ..., 100)."""
    test_sets: int = 1000
    """Test sets per length (the paper: 10,000)."""
    lstm_hidden: int = 50
    """Units of the LSTM baseline (the paper: 50)."""
    gru_hidden: int = 80
    """Units of the GRU baseline (the paper: 80)."""
    st_dim: int = 32
    """Width of the Set Transformer's blocks."""
    st_heads: int = 2
    """Attention heads of the Set Transformer (st_dim must be a multiple)."""


QUICK: dict[str, Any] = dict(
    seeds=2,
    train_sets=2000,
    steps=60,
    fine_steps=20,
    image_deepset_steps=60,
    image_deepset_fine_steps=20,
    batch_size=16,
    lengths=(5, 10, 20),
    test_sets=50,
)
"""The defaults `--quick` changes; every other field keeps its own."""


def quick_settings(**overrides: Any) -> DigitsSettings:
    """The quick run: QUICK's values and quick=True, then `overrides` (explicit settings win)."""
    return DigitsSettings(**{**QUICK, "quick": True, **overrides})


def resolve(settings: DigitsSettings) -> DigitsSettings:
    """Check every field (a ValueError naming the first bad one); the settings as given."""
    if not isinstance(settings, DigitsSettings):
        raise TypeError(f"settings must be a DigitsSettings, got {settings!r:.80}")
    s = settings
    check_common(s)
    check_positive(
        s, ("train_sets", "steps", "batch_size", "image_deepset_steps", "test_sets",
            "lstm_hidden", "gru_hidden", "st_dim", "st_heads"),
        zero=("fine_steps", "image_deepset_fine_steps"),
        floats=("lr", "fine_lr", "image_deepset_lr", "image_deepset_fine_lr"),
    )  # fmt: skip
    if check_sizes(s.train_sizes, "train_sizes")[0] < 1:
        raise ValueError(f"train_sizes must not allow empty sets, got {s.train_sizes!r}")
    if not is_int(s.max_shift) or not 0 <= s.max_shift < SIDE:
        raise ValueError(f"max_shift must be an integer in [0, {SIDE - 1}], got {s.max_shift!r}")
    positive_ints(s.lengths, "lengths")
    if len(set(s.lengths)) != len(s.lengths):
        raise ValueError(f"lengths must not repeat, got {s.lengths!r}")
    if s.st_dim % s.st_heads:
        raise ValueError(f"st_dim must be a multiple of st_heads, got {s.st_dim}, {s.st_heads}")
    check_needs(s, memory_needs(s))
    return s


def memory_needs(s: DigitsSettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): the
    image task's training sets (and their shifted copy), the test sets of the longest length,
    the recurrent and attention models, their losses, and a training step (the image task's
    sets are the larger)."""
    hi, longest = s.train_sizes[1], max(s.lengths)
    train = s.train_sets * hi * IMAGE_BYTES * (2 if s.max_shift else 1)
    needs = [
        Need("the training sets", train, ("train_sets", "train_sizes")),
        Need("the test sets", s.test_sets * longest * IMAGE_BYTES, ("test_sets", "lengths")),
    ]
    F = PIXELS + 1  # the image task's inputs, plus a bias
    runs = s.seeds * len(TASKS)
    for what, params, field in [
        ("the LSTMs", 4 * s.lstm_hidden * (s.lstm_hidden + F + 1), "lstm_hidden"),
        ("the GRUs", 3 * s.gru_hidden * (s.gru_hidden + F + 1), "gru_hidden"),
        ("the Set Transformers", 2 * (15 * s.st_dim**2 + F * s.st_dim), "st_dim"),  # both kinds
    ]:
        needs.append(models_need(what, runs, [params], ("seeds", field)))
    steps = max(s.steps + s.fine_steps, s.image_deepset_steps + s.image_deepset_fine_steps)
    field = "steps" if steps == s.steps + s.fine_steps else "image_deepset_steps"
    needs.append(losses_need(runs * len(MODELS), steps, ("seeds", field)))
    units = max(6 * s.lstm_hidden, 5 * s.gru_hidden, 10 * s.st_dim + s.st_heads * hi)
    fields = ("batch_size", "seeds", "train_sizes")
    step = activations_need("a step's activations", s.seeds * len(MODELS), s.batch_size, hi,
                            units + PIXELS, fields)  # fmt: skip
    needs.append(step)
    return needs
