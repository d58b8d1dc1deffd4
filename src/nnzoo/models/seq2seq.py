r"""``seq2seq``: a recurrent encoder-decoder with Luong or Bahdanau attention.

Shape legend: B batch, S source steps, T target steps, E embedding, H hidden, D encoder width
(H, or 2H bidirectional), A attention width (H), V vocabulary.

.. math::
    e_1..e_S = \mathrm{Encoder}(\mathrm{Emb}_s(x_1..x_S)), \qquad
    \bar e = \tfrac{1}{S_b} \textstyle\sum_{s \le S_b} e_s \\
    d_t = \mathrm{Decoder}([\mathrm{Emb}_t(y_{t-1});\ \bar e]) \qquad (y_0 = \langle bos\rangle) \\
    \alpha_{t} = \mathrm{softmax}_s\, \mathrm{score}(d_t, e_s), \qquad
    c_t = \textstyle\sum_s \alpha_{ts} e_s \\
    \mathrm{logits}_t = W_o \tanh(W_c [d_t; c_t])

with the score of ``attention``:

.. math::
    \text{luong (general, Luong et al. 2015):} \quad
        \mathrm{score}(d_t, e_s) = (W_q d_t)^\top e_s \\
    \text{bahdanau (additive, Bahdanau et al. 2015):} \quad
        \mathrm{score}(d_t, e_s) = v^\top \tanh(W_d d_t + W_e e_s + b)

Bahdanau's decoder reads the context of step t - 1 in its recurrent input, scoring the
PREVIOUS decoder state against the encoder's, which needs a loop over the target steps. nnzoo
keeps one decoder that runs over the whole shifted target at once (teacher forcing in one
pass, as Luong's "attention on top"), so here the additive score is taken on the decoder's
output d_t and its context enters only the output layer, as Luong's does: Bahdanau's score
function, Luong's wiring.

Every decoder input carries the mean encoder state \bar e, so the model works without
attention too (``attention="none"``: logits_t = W_o d_t). ``attention = true / false`` (older
configs) mean ``"luong"`` / ``"none"``. Encoder and decoder are
`nnzoo.Recurrent` stacks of any registered cell; the encoder may be bidirectional; padding
steps of the source are masked out of the mean and the attention. The decoder is causal, so
``forward`` with teacher forcing (the whole shifted target at once) and greedy decoding one
token at a time (``nnzoo.tasks.seq2seq``) see the same function.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnzoo.cells.base import check_positive_int
from nnzoo.errors import ConfigError
from nnzoo.layers.recurrent import Recurrent
from nnzoo.models import MODELS

ATTENTIONS = ("luong", "bahdanau", "none")


def attention_kind(attention: str | bool) -> str:
    """``attention`` as one of `ATTENTIONS` (``True``: ``"luong"``, ``False``: ``"none"``)."""
    if attention is True or attention is False:
        return "luong" if attention else "none"
    if attention not in ATTENTIONS:
        raise ConfigError(
            f"model.options.attention={attention!r}: expected one of {', '.join(ATTENTIONS)}"
        )
    return attention


@MODELS.register("seq2seq")
class Seq2Seq(nn.Module):
    """Encoder-decoder over token ids (``<pad>`` = 0).

    Args:
        num_features: source vocabulary size.
        num_classes: target vocabulary size.
        cell: registry name of the encoder's and the decoder's cell.
        hidden: H of every recurrent layer.
        layers: recurrent layers of the encoder and of the decoder.
        bidirectional: the encoder reads both ways.
        dropout: between recurrent layers.
        embedding: E, the width of both token embeddings.
        attention: ``"luong"`` (general dot product), ``"bahdanau"`` (additive) or ``"none"``;
            true / false mean luong / none.
        cell_options: passed to every cell.
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        cell: str = "lstm",
        hidden: int = 32,
        layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        embedding: int = 32,
        attention: str | bool = "luong",
        cell_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("embedding", embedding)
        options = cell_options or {}
        self.src_embed = nn.Embedding(num_features, embedding, padding_idx=0)
        self.tgt_embed = nn.Embedding(num_classes, embedding, padding_idx=0)
        self.encoder = Recurrent(
            cell, embedding, hidden, num_layers=layers, bidirectional=bidirectional,
            dropout=dropout, **options,
        )  # fmt: skip
        D = self.encoder.output_size
        self.decoder = Recurrent(
            cell, embedding + D, hidden, num_layers=layers, dropout=dropout, **options
        )
        self.attention = attention_kind(attention)
        if self.attention == "luong":
            self.query = nn.Linear(hidden, D, bias=False)  # W_q
        elif self.attention == "bahdanau":
            self.query = nn.Linear(hidden, hidden, bias=False)  # W_d
            self.key = nn.Linear(D, hidden)  # W_e and b
            self.energy = nn.Linear(hidden, 1, bias=False)  # v
        if self.attention != "none":
            self.combine = nn.Linear(hidden + D, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """src (B, S) -> encoder outputs (B, S, D), their mean (B, D) and the mask (B, S)."""
        e, _ = self.encoder(self.src_embed(src), lengths=src_lengths)  # (B, S, D)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths[:, None]
        mean = (e * mask.unsqueeze(-1)).sum(1) / src_lengths[:, None].to(e.dtype)  # (B, D)
        return e, mean, mask

    def decode(self, memory: tuple[Tensor, Tensor, Tensor], tgt_in: Tensor) -> Tensor:
        """Logits (B, T, V) of the next target token after each of tgt_in (B, T)."""
        e, mean, mask = memory
        T = tgt_in.shape[1]
        inputs = torch.cat([self.tgt_embed(tgt_in), mean[:, None].expand(-1, T, -1)], dim=-1)
        d, _ = self.decoder(inputs)  # (B, T, H)
        if self.attention == "none":
            return self.out(d)
        scores = self.scores(d, e)  # (B, T, S)
        alpha = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        context = torch.einsum("bts,bsd->btd", alpha, e)  # (B, T, D)
        return self.out(torch.tanh(self.combine(torch.cat([d, context], dim=-1))))

    def scores(self, d: Tensor, e: Tensor) -> Tensor:
        """score(d_t, e_s) (B, T, S) of decoder outputs d (B, T, H) and encoder outputs e
        (B, S, D), before the padding mask."""
        if self.attention == "luong":
            return torch.einsum("btd,bsd->bts", self.query(d), e)
        hidden = self.query(d)[:, :, None] + self.key(e)[:, None]  # (B, T, S, A)
        return self.energy(torch.tanh(hidden)).squeeze(-1)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """src (B, S), src_lengths (B,), tgt_in (B, T) -> logits (B, T, V)."""
        return self.decode(self.encode(src, src_lengths), tgt_in)
