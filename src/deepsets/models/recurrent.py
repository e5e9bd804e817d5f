"""The paper's recurrent baselines: an LSTM or a GRU reading a set's digits in order.

The valid objects are moved to the front (in their order) and the network reads the padded
sequence; the prediction is read from the hidden state after the last valid object, so padding
never reaches it (a causal network's state at step n depends on steps 1..n only). An empty set
reads the initial state, zero.

Shape letters: B sets, N objects, F features, E encoded features, H hidden units.
"""

from __future__ import annotations

import torch
from torch import nn

from deepsets.checks import positive_int
from deepsets.models.arguments import recorded
from deepsets.models.encoder import DigitEncoder
from deepsets.models.seeding import child_seed, seeded_init

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
