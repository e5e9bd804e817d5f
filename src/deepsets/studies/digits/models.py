"""The study's four models for one task: the paper's DeepSet, LSTM and GRU, and a Set Transformer.

`build(model, task, settings, seed)` makes one, its initial weights drawn from `seed`.
"""

from __future__ import annotations

from torch import nn

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
}  # how the report names each model of MODELS


def in_features(task: str) -> int | None:
    """None for text (digit tokens), PIXELS for images."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return None if task == "text" else PIXELS


def build(model: str, task: str, s: DigitsSettings, seed: int) -> nn.Module:
    """One untrained model of MODELS for `task`, its weights drawn from `seed`."""
    F = in_features(task)
    if model == "deepset":
        return digit_deepset(F, generator=seed)
    if model == "lstm":
        return RecurrentSum("lstm", s.lstm_hidden, F, generator=seed)
    if model == "gru":
        return RecurrentSum("gru", s.gru_hidden, F, generator=seed)
    if model == "set_transformer":
        return SetTransformer(F, dim=s.st_dim, heads=s.st_heads, generator=seed)
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")
