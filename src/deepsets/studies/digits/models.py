"""The study's models for one task: the paper's DeepSet, LSTM and GRU, and two Set Transformers.

`build(model, task, settings, seed)` makes one, its initial weights drawn from `seed`.

The text DeepSet is the paper's (`digit_deepset`). The image DeepSet is the package's
`DeepSet(phi=..., rho=..., pooling="sum")` with phi = a small CNN of each 8x8 image
(`ConvEncoder`) ending in a softmax over the nine digit values (`DigitHead`), and rho =
sum_d d * count_d (`DigitValues`, no trained weights): each image's value is a mixture of 1..9,
so it cannot drift between digits, and a sum of 100 images stays on the digits' scale. Measured
on this study's sets (one seed, 10,000 + 2,000 steps, shifted images), accuracy at 5 / 50
digits: this 0.926 / 0.422; the same CNN with the paper's Dense(30, tanh) phi and Dense(1) rho
0.568 / 0.098; the paper's kind of phi (an MLP of the pixels) with the softmax head 0.866 / 0.312.
`DeepSet` calls phi without the mask: the encoder computes the all-zero padding images once
instead (`ConvEncoder.forward`), so the outputs are the same and padding costs nothing.

The counting Set Transformer is the Set Transformer with cardinality-preserving attention in its
PMA (Zhang & Xie 2019, `SetTransformer(counting=True)`): the softmax one cannot tell a set from
itself twice over, the counting one can.
"""

from __future__ import annotations

from torch import nn

from deepsets.checks import as_generator
from deepsets.models.conv_encoder import ConvEncoder, DigitHead, DigitValues
from deepsets.models.deepset import DeepSet
from deepsets.models.digit_deepset import digit_deepset
from deepsets.models.recurrent import RecurrentSum
from deepsets.models.set_transformer import SetTransformer
from deepsets.studies.digits.settings import MODELS, TASKS, DigitsSettings
from deepsets.tasks.digits import PIXELS

NAMES = {
    "deepset": "DeepSet",
    "lstm": "LSTM",
    "gru": "GRU",
    "set_transformer": "Set Transformer",
    "counting_set_transformer": "counting Set Transformer",
}  # how the report names each model of MODELS
WIDTH, CHANNELS = 64, (16, 32)  # the image DeepSet's encoder: E features, the convolutions'


def in_features(task: str) -> int | None:
    """None for text (digit tokens), PIXELS for images."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return None if task == "text" else PIXELS


def image_deepset(seed: int) -> DeepSet:
    """DeepSet(phi=Sequential(ConvEncoder, DigitHead), rho=DigitValues(), pooling="sum"), the
    encoder's and then the head's weights drawn from one generator of `seed`."""
    g = as_generator(seed)
    phi = nn.Sequential(ConvEncoder(WIDTH, CHANNELS, generator=g), DigitHead(WIDTH, generator=g))
    return DeepSet(phi=phi, rho=DigitValues(), pooling="sum")


def build(model: str, task: str, s: DigitsSettings, seed: int) -> nn.Module:
    """One untrained model of MODELS for `task`, its weights drawn from `seed`."""
    F = in_features(task)
    if model == "deepset":
        return digit_deepset(F, generator=seed) if F is None else image_deepset(seed)
    if model == "lstm":
        return RecurrentSum("lstm", s.lstm_hidden, F, generator=seed)
    if model == "gru":
        return RecurrentSum("gru", s.gru_hidden, F, generator=seed)
    if model in ("set_transformer", "counting_set_transformer"):
        counting = model == "counting_set_transformer"
        return SetTransformer(F, dim=s.st_dim, heads=s.st_heads, counting=counting, generator=seed)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")
