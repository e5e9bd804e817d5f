"""The study's models for one task: the paper's DeepSet, LSTM and GRU, and two Set Transformers.

`build(model, task, settings, seed)` makes one, its initial weights drawn from `seed`.

- The text DeepSet is the paper's (section 4.1.1): Embedding, Dense(30, tanh), masked sum,
  Dense(1), so the output is linear in the pooled sum and follows sums past the training range.
- The image DeepSet is the package's `DeepSet` with phi = `ConvEncoder` + `DigitHead` (a softmax
  over the nine digits) and rho = `DigitValues` (sum_d d * count_d, fixed): each image's value is
  a mixture of 1..9, so a sum of 100 images stays on the digits' scale (the alternatives measured:
  docs/studies/digits.md).
- The recurrent baselines (`RecurrentSum`) read the valid objects moved to the front, in order,
  and predict from the state after the last one, so padding never reaches it; an empty set reads
  the initial state, zero.
- The Set Transformer: `DigitEncoder`, SAB x blocks, PMA (one seed), Dense(1), of the package's
  `MAB`; the counting one has cardinality-preserving attention in its PMA (Zhang & Xie 2019): it
  can tell a set from itself twice over, the softmax one cannot.

Shape letters: B sets, N objects, F features, E encoded features, L latent features, H hidden
units, D the attention blocks' width.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.checks import as_generator, check_flag, positive_int
from deepsets.models.arguments import recorded
from deepsets.models.deepset import DeepSet
from deepsets.models.seeding import child_seed, seeded_init
from deepsets.models.set_transformer import MAB, check_width
from deepsets.studies.digits.encoders import ConvEncoder, DigitEncoder, DigitHead, DigitValues
from deepsets.studies.digits.settings import MODELS, TASKS, DigitsSettings
from deepsets.studies.digits.tasks import PIXELS
from deepsets.weights import register

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


def digit_deepset(
    in_features: int | None = None,
    *,
    width: int = 100,
    latent: int = 30,
    generator: torch.Generator | int | None = None,
) -> DeepSet:
    """DeepSet(phi=Sequential(encoder, Dense(latent, tanh)), rho=Dense(1), pooling="sum").

    Its forward takes X (B, N, 1) or (B, N) digit tokens, or (B, N, F) pixels, and a mask
    (B, N) or None, and gives the predicted sums (B, 1); an empty set gives rho(0).

    Arguments:
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        width: E, the encoder's output (the paper: an embedding of 100).
        latent: L, phi's output (the paper: 30).
        generator: a torch.Generator or integer seed for the initial weights (one seed is drawn
            from it, as for the recurrent models and the Set Transformer).
    """
    latent = positive_int(latent, "latent")
    with seeded_init(child_seed(generator)):
        encoder = DigitEncoder(width, in_features)
        phi = nn.Sequential(encoder, nn.Linear(encoder.width, latent), nn.Tanh())
        rho = nn.Linear(latent, 1)
    return DeepSet(phi=phi, rho=rho, pooling="sum")


CELLS: dict[str, type[nn.LSTM] | type[nn.GRU]] = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentSum(nn.Module):
    """encoder -> LSTM or GRU over the set as a sequence -> Dense(1) on the last valid state.

    Arguments:
        cell: "lstm" (the paper: 50 units) or "gru" (the paper: 80 units).
        hidden: H, the recurrent units.
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        width: E, the encoder's output (the embedding of 100, as for the DeepSet).
        generator: a torch.Generator or integer seed for the initial weights.
    """

    ONNX_REFUSAL = (  # measured with torch 2.13 and onnxruntime 1.32 (deepsets.export)
        "the LSTM/GRU model does not export: its forward moves the valid objects to the front "
        "with torch.sort(stable=True), which the TorchScript exporter cannot translate ('ONNX "
        "export of operator Sort, Out parameter is not supported'), and torch.export stops at "
        "int(n.max()), a length read from the data"
    )

    @recorded
    def __init__(
        self,
        cell: str = "lstm",
        hidden: int = 50,
        in_features: int | None = None,
        *,
        width: int = 100,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
        self.cell = cell
        hidden = positive_int(hidden, "hidden")
        with seeded_init(child_seed(generator)):
            self.encoder = DigitEncoder(width, in_features)
            self.rnn = CELLS[cell](width, hidden, batch_first=True)
            self.rho = nn.Linear(hidden, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted sums: X (B, N, 1) tokens or (B, N, F), mask (B, N) or None -> (B, 1)."""
        X, valid = self.encoder.check(X, mask)
        B = valid.shape[0]
        order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices  # (B, N)
        n = valid.sum(dim=1)  # (B,) objects to read; state n follows the last of them
        T = int(n.max()) if B else 0  # steps worth reading: beyond them only padding
        e = self.encoder(X)  # (B, N, E)
        e = e.gather(1, order[:, :T, None].expand(B, T, e.shape[-1]))  # (B, T, E), valid first
        H = self.rnn.hidden_size
        out = self.rnn(e)[0] if T else e.new_zeros(B, 0, H)  # (B, T, H)
        states = torch.cat([out.new_zeros(B, 1, H), out], dim=1)  # (B, T + 1, H)
        last = states[torch.arange(B, device=n.device), n]  # (B, H)
        p: torch.Tensor = self.rho(last)  # (B, 1)
        return p


class SetTransformer(nn.Module):
    """encoder -> SAB x blocks -> PMA (one seed) -> Dense(1): a regression on sets (the digit
    sums).

    Arguments:
        in_features: None for digit tokens (B, N, 1); F for float features (B, N, F).
        dim: D, the width of every block (the encoder's output too).
        heads: attention heads (D must be a multiple of it).
        blocks: SABs in the encoder (the paper: 2).
        counting: cardinality-preserving attention (CPA) in the PMA: it can count.
        generator: a torch.Generator or integer seed for the initial weights.
    """

    ONNX_REFUSAL = (  # measured with torch 2.13 and onnxruntime 1.32 (deepsets.export)
        "the Set Transformer does not export: nn.MultiheadAttention's traced graph fixes the "
        "set size it was traced with (onnxruntime fails on any other), and torch.export's "
        "graph fails on empty sets and cannot capture the token check of the text model"
    )

    @recorded
    def __init__(
        self,
        in_features: int | None = None,
        *,
        dim: int = 64,
        heads: int = 4,
        blocks: int = 2,
        counting: bool = False,
        generator: torch.Generator | int | None = None,
    ) -> None:
        super().__init__()
        dim, heads = check_width(dim, heads)
        with seeded_init(child_seed(generator)):
            self.encoder = DigitEncoder(dim, in_features)
            self.sabs = nn.ModuleList(
                MAB(dim, heads) for _ in range(positive_int(blocks, "blocks"))
            )
            self.seed = nn.Parameter(torch.randn(1, 1, dim) / dim**0.5)  # S (1, 1, D)
            self.pma = MAB(dim, heads, counting=check_flag(counting, "counting"))
            self.rho = nn.Linear(dim, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted sums: X (B, N, 1) tokens or (B, N, F), mask (B, N) or None -> (B, 1)."""
        X, valid = self.encoder.check(X, mask)
        Z = self.encoder(X)  # (B, N, D)
        for sab in self.sabs:
            Z = sab(Z, Z, valid)  # (B, N, D)
        S = self.seed.expand(Z.shape[0], 1, -1)  # (B, 1, D)
        pooled = self.pma(S, Z, valid)  # (B, 1, D)
        p: torch.Tensor = self.rho(pooled[:, 0])  # (B, 1)
        return p


register(RecurrentSum, SetTransformer)  # deepsets.load_model rebuilds them
