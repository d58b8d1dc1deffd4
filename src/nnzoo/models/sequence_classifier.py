"""``SequenceClassifier``: sequences (B, T, F), or token ids (B, T), -> class logits (B, C).

    x_t = E[w_t]                          token ids w_t, with ``embedding`` > 0: a trained
                                          embedding table E (V x embedding, row 0 = <pad>)
    z_t = act(W_p x_t + b_p)              optional input projection (the LARNN paper's)
    o_1..o_T = Recurrent(z_1..z_T)        any registered cell: layers, bidirectional, residual
    r = o_{len}                            readout "last": each sequence's own last step
      | mean_{t <= len} o_t                readout "mean"
      | sum_t softmax_t(v^T tanh(W_a o_t)) o_t    readout "attention" (padding masked)
    logits = W_c r + b_c

For a bidirectional encoder, "last" takes the forward half at each sequence's last step and the
backward half at step 1, where the backward direction has read the whole sequence.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnzoo.cells.base import check_choice, check_positive_int
from nnzoo.errors import ConfigError
from nnzoo.layers.recurrent import Recurrent
from nnzoo.layers.scan import check_lengths
from nnzoo.models import MODELS

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "none": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,  # negative_slope 0.01, torch's default
}
READOUTS = ("last", "mean", "attention")


@MODELS.register("sequence-classifier")
class SequenceClassifier(nn.Module):
    """Projection, recurrent encoder, readout, linear head.

    Args:
        input_size: F, features per step.
        num_classes: C.
        cell: registry name of the recurrent cell.
        hidden: H of every recurrent layer.
        layers: stacked recurrent layers.
        bidirectional: each layer reads both ways (directions concatenated).
        residual: sum connections around layers whose input and output widths match.
        dropout: between recurrent layers.
        projection: width of the input projection; 0 for none.
        projection_activation: relu, tanh, elu, gelu, sigmoid, leaky_relu or none.
        readout: last, mean or attention.
        cell_options: passed to every cell (e.g. ``window``, ``num_heads`` for larnn).
        embedding: the input is token ids (B, T) of a vocabulary of ``input_size`` tokens,
            looked up in a table of this width trained from scratch (``<pad>`` = 0 stays
            zero); 0: the input is features (B, T, F).
        embedding_dropout: dropout on the embedded tokens.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        cell: str = "lstm",
        hidden: int = 32,
        layers: int = 2,
        bidirectional: bool = False,
        residual: bool = False,
        dropout: float = 0.0,
        projection: int = 0,
        projection_activation: str = "relu",
        readout: str = "last",
        cell_options: dict[str, Any] | None = None,
        embedding: int = 0,
        embedding_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.readout = check_choice("readout", readout, READOUTS)
        check_choice("projection_activation", projection_activation, tuple(ACTIVATIONS))
        if projection < 0:
            raise ConfigError(f"projection={projection!r}: expected a width >= 1, or 0 for none")
        if isinstance(embedding, bool) or not isinstance(embedding, int) or embedding < 0:
            raise ConfigError(
                f"embedding={embedding!r}: expected a width >= 1 for token ids, or 0 for features"
            )
        if not 0 <= embedding_dropout < 1:
            raise ConfigError(f"embedding_dropout={embedding_dropout!r}: expected 0 <= p < 1")
        width = input_size
        self.embed: nn.Module | None = None
        if embedding:
            self.embed = nn.Sequential(
                nn.Embedding(input_size, embedding, padding_idx=0), nn.Dropout(embedding_dropout)
            )
            width = embedding
        self.projection: nn.Module = nn.Identity()
        if projection:
            self.projection = nn.Sequential(
                nn.Linear(width, projection), ACTIVATIONS[projection_activation]()
            )
            width = projection
        self.encoder = Recurrent(
            cell,
            width,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            residual=residual,
            dropout=dropout,
            **(cell_options or {}),
        )
        self.bidirectional = bool(bidirectional)
        out = self.encoder.output_size
        if self.readout == "attention":
            self.attention = nn.Sequential(nn.Linear(out, out), nn.Tanh(), nn.Linear(out, 1))
        self.head = nn.Linear(out, num_classes)

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T, F), or token ids (B, T) with an embedding -> the readout r (B, D)."""
        ids = not torch.is_floating_point(x)
        if ids and self.embed is None:
            raise ConfigError(
                f"sequence-classifier: the input is token ids {tuple(x.shape)} (text data); set "
                "model.embedding to a width (e.g. 64) to learn an embedding of them"
            )
        if not ids and self.embed is not None:
            raise ConfigError(
                f"sequence-classifier: model.embedding={self.embed[0].embedding_dim} takes token "
                f"ids (B, T), and the input is features {tuple(x.shape)}; set model.embedding = 0"
            )
        if self.embed is not None:
            x = self.embed(x)  # (B, T, E)
        if lengths is not None:
            lengths = check_lengths(lengths, x)  # None when every sequence is full
        z = self.projection(x)  # (B, T, P)
        o, _ = self.encoder(z, lengths=lengths)  # (B, T, D)
        B, T, D = o.shape
        last = torch.full((B,), T - 1, device=o.device) if lengths is None else lengths - 1
        if self.readout == "last":
            r = o[torch.arange(B, device=o.device), last]  # (B, D)
            if self.bidirectional:
                H = D // 2
                r = torch.cat([r[:, :H], o[:, 0, H:]], dim=-1)
            return r
        steps = torch.arange(T, device=o.device)
        mask = steps[None, :] <= last[:, None]  # (B, T)
        if self.readout == "mean":
            return (o * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).to(o.dtype)
        scores = self.attention(o).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
        return torch.einsum("bt,btd->bd", scores.softmax(dim=1), o)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T, F), lengths (B,) or None -> logits (B, C)."""
        return self.head(self.features(x, lengths))
