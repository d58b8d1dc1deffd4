r"""``generator``: a next-step model over tokens or multi-hot steps.

Shape legend: B batch, T steps, K keys (multi-hot width) or V vocabulary, E embedding,
H hidden.

.. math::
    z_t = \begin{cases} E[x_t] & \text{token ids (categorical)} \\
                       x_t^\top E & \text{multi-hot steps: the sum of the active keys' rows}
          \end{cases} \\
    o_1..o_T = \mathrm{Recurrent}(z_1..z_T), \qquad \mathrm{logits}_t = W o_t + b

``logits_t`` scores step t + 1: a softmax over V for tokens, an independent sigmoid per key for
multi-hot steps (``nnzoo.tasks.next_step`` owns the loss and sampling). One embedding matrix
E (V x E, or K x E) serves both kinds of input, so the same model reads either.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from nnzoo.cells.base import check_positive_int
from nnzoo.layers.recurrent import Recurrent
from nnzoo.models import MODELS


@MODELS.register("generator")
class Generator(nn.Module):
    """Embedding, recurrent stack (any registered cell), linear head.

    Args:
        num_features: V (token ids) or K (multi-hot width) of the inputs.
        num_classes: V or K of the outputs.
        cell, hidden, layers, residual, dropout, cell_options: the recurrent stack, as in
            ``sequence-classifier``.
        embedding: E.
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        cell: str = "lstm",
        hidden: int = 32,
        layers: int = 2,
        residual: bool = False,
        dropout: float = 0.0,
        embedding: int = 32,
        cell_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("embedding", embedding)
        self.embed = nn.Embedding(num_features, embedding)
        self.rnn = Recurrent(
            cell, embedding, hidden, num_layers=layers, residual=residual, dropout=dropout,
            **(cell_options or {}),
        )  # fmt: skip
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T) ids or (B, T, K) multi-hot, lengths (B,) or None -> logits (B, T, V|K)."""
        z = self.embed(x) if x.dim() == 2 else x @ self.embed.weight  # (B, T, E)
        o, _ = self.rnn(z, lengths=lengths)  # (B, T, H)
        return self.head(o)
