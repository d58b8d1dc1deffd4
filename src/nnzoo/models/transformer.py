r"""Token models: a Transformer encoder classifier, a bag of words, a Transformer encoder-decoder.

Shape legend: B batch, T tokens (S source tokens), E embedding, N heads, V vocabulary, C classes.
Token ids are int64 with ``<pad>`` = 0 (`nnzoo.data.text`); padding never changes a real token's
output.

The embedding of the tokens x_1..x_T (Vaswani et al. 2017, "Attention is all you need"):

.. math::
    h^0_p = \sqrt{E}\, \mathrm{Emb}(x_p) + \mathrm{PE}_p, \qquad
    \mathrm{PE}_{p,2i} = \sin\!\big(p / 10000^{2i/E}\big), \quad
    \mathrm{PE}_{p,2i+1} = \cos\!\big(p / 10000^{2i/E}\big)

and one pre-norm encoder layer (``norm_first``; a final LayerNorm after the last layer):

.. math::
    \mathrm{head}_n = \mathrm{softmax}\big(Q_n K_n^\top / \sqrt{E/N} + M\big) V_n, \qquad
    Q_n, K_n, V_n = \mathrm{LN}_1(h) W^{q,k,v}_n \\
    a = h + [\mathrm{head}_1; \ldots; \mathrm{head}_N] W^o, \qquad
    h' = a + \max(0, \mathrm{LN}_2(a) W_1 + b_1) W_2 + b_2

where M_{pq} = -inf on the padding keys q (and, in the decoder's self-attention, on q > p).
The embedding matrices start at N(0, 1/E), so sqrt(E) Emb(x) has unit variance, as PE has.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nnzoo.cells.base import check_bool, check_choice, check_number, check_positive_int
from nnzoo.errors import ConfigError
from nnzoo.layers.scan import check_lengths
from nnzoo.models import MODELS

READOUTS = ("mean", "first")
POSITIONS = ("sinusoidal", "learned")


def sinusoidal_table(length: int, embedding: int) -> Tensor:
    """PE (length, E): PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(p / 10000^(2i/E))."""
    p = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, embedding, 2, dtype=torch.float64)  # (ceil(E/2),)
    angle = p / 10000.0 ** (two_i / embedding)  # (L, ceil(E/2))
    pe = torch.zeros(length, embedding, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : embedding // 2])
    return pe.to(torch.get_default_dtype())


def check_ids(name: str, x: Tensor, vocabulary: int, max_length: int | None = None) -> None:
    """Raise a one-line ConfigError unless x is (B, T) integer ids in [0, V), T <= max_length."""
    if x.dim() != 2 or x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ConfigError(
            f"{name}: the model takes token ids (B, T) of integers, e.g. from a text dataset; "
            f"got a {x.dim()}-D {str(x.dtype).removeprefix('torch.')} tensor of shape "
            f"{tuple(x.shape)}"
        )
    length = x.shape[1]
    if max_length is not None and length > max_length:
        raise ConfigError(
            f"{name}: sequence of {length} tokens is longer than max_length={max_length}; raise "
            "model.max_length or cut the text"
        )
    if x.numel() and x.device.type != "meta":
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi >= vocabulary:
            raise ConfigError(
                f"{name}: token ids from {lo} to {hi}, outside the vocabulary of {vocabulary} "
                "ids [0, V); build the model for the vocabulary the ids come from"
            )


def padding_mask(x: Tensor, lengths: Tensor | None) -> Tensor:
    """(B, T) bool, True on the padding steps p >= length (all False when lengths is None)."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    if lengths is None:
        return torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    return steps >= lengths[:, None]


def _check_width(embedding: int, heads: int) -> None:
    check_positive_int("embedding", embedding)
    check_positive_int("heads", heads)
    if embedding % heads:
        raise ConfigError(
            f"embedding={embedding} is not divisible by heads={heads}: each head reads "
            "embedding / heads features; choose heads that divide embedding"
        )


def _check_dropout(dropout: float) -> float:
    dropout = check_number("dropout", dropout)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout={dropout!r}: expected a probability in [0, 1)")
    return dropout


def _token_embedding(vocabulary: int, embedding: int) -> nn.Embedding:
    """Emb (V, E) with ``<pad>`` = 0 held at zero, drawn from N(0, 1/E)."""
    embed = nn.Embedding(vocabulary, embedding, padding_idx=0)
    nn.init.normal_(embed.weight, std=embedding**-0.5)
    with torch.no_grad():
        embed.weight[0].zero_()
    return embed


def _encoder(
    embedding: int, heads: int, layers: int, feedforward: int, dropout: float
) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        embedding, heads, feedforward, dropout, batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(
        layer, layers, norm=nn.LayerNorm(embedding), enable_nested_tensor=False
    )


@MODELS.register("transformer-classifier")
class TransformerClassifier(nn.Module):
    r"""Token ids (B, T) -> class logits (B, C) through a pre-norm Transformer encoder.

    .. math::
        h^0 = \mathrm{Dropout}(\sqrt{E}\,\mathrm{Emb}(x) + P), \qquad
        o = \mathrm{LN}(\mathrm{Encoder}^{L}(h^0)) \\
        r = \tfrac{1}{n}\textstyle\sum_{p \le n} o_p \ \text{(readout "mean")}
          \;\mid\; o_1 \ \text{("first")}, \qquad
        \mathrm{logits} = W_c r + b_c

    with P the sinusoidal table (``positions="sinusoidal"``) or a learned (max_length, E)
    embedding (``"learned"``), n each text's length, and the padding keys masked out of every
    attention, so extra ``<pad>`` columns leave the logits unchanged.

    Args:
        num_features: V, the vocabulary size (``<pad>`` = 0).
        num_classes: C.
        embedding: E, the width of the tokens' vectors.
        heads: N, attention heads; must divide E.
        layers: L, encoder layers.
        feedforward: width of each layer's ReLU feed-forward block.
        dropout: on the embeddings, the attention weights and in every layer.
        max_length: the most tokens a text may have (the rows of the position table).
        readout: mean (over each text's real tokens) or first (the first token's output).
        positions: sinusoidal or learned.
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        embedding: int = 64,
        heads: int = 4,
        layers: int = 2,
        feedforward: int = 128,
        dropout: float = 0.1,
        max_length: int = 512,
        readout: str = "mean",
        positions: str = "sinusoidal",
    ) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.num_classes = check_positive_int("num_classes", num_classes)
        _check_width(embedding, heads)
        check_positive_int("layers", layers)
        check_positive_int("feedforward", feedforward)
        self.max_length = check_positive_int("max_length", max_length)
        self.readout = check_choice("readout", readout, READOUTS)
        self.positions = check_choice("positions", positions, POSITIONS)
        dropout = _check_dropout(dropout)
        self.embedding = embedding
        self.embed = _token_embedding(num_features, embedding)
        if positions == "learned":
            self.position_embed = nn.Embedding(max_length, embedding)
        else:
            self.register_buffer("pe", sinusoidal_table(max_length, embedding), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder = _encoder(embedding, heads, layers, feedforward, dropout)
        self.head = nn.Linear(embedding, num_classes)

    def position_table(self, T: int) -> Tensor:
        """P (T, E): the first T rows of the sinusoidal or the learned position table."""
        if self.positions == "learned":
            return self.position_embed.weight[:T]
        return self.pe[:T]

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T) ids, lengths (B,) or None -> the readout r (B, E)."""
        check_ids("x", x, self.num_features, self.max_length)
        if lengths is not None:
            lengths = check_lengths(lengths, x)  # None when every text is full
        pad = padding_mask(x, lengths)  # (B, T)
        h = self.embed(x) * math.sqrt(self.embedding) + self.position_table(x.shape[1])
        o = self.encoder(self.dropout(h), src_key_padding_mask=pad)  # (B, T, E)
        if self.readout == "first":
            return o[:, 0]
        real = (~pad).unsqueeze(-1).to(o.dtype)  # (B, T, 1)
        return (o * real).sum(1) / real.sum(1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T) int64 ids, lengths (B,) or None (all full) -> logits (B, C)."""
        return self.head(self.features(x, lengths))


@MODELS.register("bag-of-words")
class BagOfWords(nn.Module):
    r"""Logistic regression on word counts.

    .. math::
        c_{bv} = \textstyle\sum_{p \le n_b} [x_{bp} = v] \quad (v \ne \langle pad\rangle),
        \qquad \mathrm{logits}_b = c_b W + b

    with ``binary_counts``: c_{bv} = 1 when word v occurs in text b at all, else 0. c is the
    matrix scikit-learn's ``CountVectorizer`` (``binary=True``) makes of the same texts, so this
    is a linear model on it; trained with the classify task's cross-entropy (softmax, or sigmoid
    for two classes) and weight decay it is L2-regularised logistic regression. W (V, C) is an
    ``nn.EmbeddingBag`` in ``sum`` mode, whose row of ``<pad>`` = 0 stays zero; W and b start
    at zero, as the problem is convex.

    Args:
        num_features: V, the vocabulary size (``<pad>`` = 0).
        num_classes: C.
        binary_counts: count each word once per text.
    """

    def __init__(self, num_features: int, num_classes: int, binary_counts: bool = False) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.binary_counts = check_bool("binary_counts", binary_counts)
        self.weight = nn.EmbeddingBag(num_features, num_classes, mode="sum", padding_idx=0)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T) int64 ids, lengths (B,) or None (all full) -> logits (B, C)."""
        check_ids("x", x, self.num_features)
        if lengths is not None:
            lengths = check_lengths(lengths, x)
        x = x.masked_fill(padding_mask(x, lengths), 0)  # (B, T), nothing past each length
        if self.binary_counts:
            x, _ = x.sort(dim=1)
            repeat = torch.zeros_like(x, dtype=torch.bool)
            repeat[:, 1:] = x[:, 1:] == x[:, :-1]
            x = x.masked_fill(repeat, 0)  # each id once per row
        return self.weight(x) + self.bias  # (B, C)


@MODELS.register("transformer-seq2seq")
class TransformerSeq2Seq(nn.Module):
    r"""Encoder-decoder over token ids (``<pad>`` = 0), Vaswani et al. 2017 in small.

    .. math::
        m = \mathrm{LN}(\mathrm{Encoder}^{L}(\sqrt{E}\,\mathrm{Emb}_s(x) + \mathrm{PE})) \\
        d = \mathrm{LN}(\mathrm{Decoder}^{L}(\sqrt{E}\,\mathrm{Emb}_t(y_{<t}) + \mathrm{PE},\ m)),
        \qquad \mathrm{logits}_t = W_o d_t + b_o

    Each pre-norm decoder layer is self-attention masked to steps <= t, attention over m with
    the source padding masked, then the feed-forward block, each with a residual around it.
    So the logits at step t read only y_0..y_t (``tgt_in``, y_0 = ``<bos>``) and the source's
    real tokens: greedy and beam search (`encode` once, `decode` on the prefix) see the same
    function as teacher forcing. Padding in ``tgt_in`` only follows real steps, so it never
    reaches them.

    ``share_embeddings`` (Vaswani's section 3.4) uses one matrix for Emb_s, Emb_t and W_o; it
    needs one vocabulary for source and target.

    Args:
        num_features: source vocabulary size.
        num_classes: target vocabulary size.
        embedding: E, the width of the tokens' vectors.
        heads: N, attention heads; must divide E.
        layers: L, encoder layers and decoder layers.
        feedforward: width of each layer's ReLU feed-forward block.
        dropout: on the embeddings, the attention weights and in every layer.
        max_length: the most tokens a source or a target may have.
        share_embeddings: tie the source and target embeddings and the output matrix.
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        embedding: int = 64,
        heads: int = 4,
        layers: int = 2,
        feedforward: int = 128,
        dropout: float = 0.1,
        max_length: int = 128,
        share_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.num_classes = check_positive_int("num_classes", num_classes)
        _check_width(embedding, heads)
        check_positive_int("layers", layers)
        check_positive_int("feedforward", feedforward)
        self.max_length = check_positive_int("max_length", max_length)
        dropout = _check_dropout(dropout)
        check_bool("share_embeddings", share_embeddings)
        if share_embeddings and num_features != num_classes:
            raise ConfigError(
                f"share_embeddings=true needs one vocabulary for source and target, got "
                f"{num_features} source and {num_classes} target tokens; set "
                "model.options.share_embeddings = false"
            )
        self.embedding = embedding
        self.src_embed = _token_embedding(num_features, embedding)
        self.tgt_embed = self.src_embed if share_embeddings else _token_embedding(
            num_classes, embedding
        )  # fmt: skip
        self.register_buffer("pe", sinusoidal_table(max_length, embedding), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder = _encoder(embedding, heads, layers, feedforward, dropout)
        layer = nn.TransformerDecoderLayer(
            embedding, heads, feedforward, dropout, batch_first=True, norm_first=True
        )
        self.decoder = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(embedding))
        self.out = nn.Linear(embedding, num_classes)
        if share_embeddings:
            self.out.weight = self.tgt_embed.weight

    def _embed(self, embed: nn.Embedding, x: Tensor) -> Tensor:
        return self.dropout(embed(x) * math.sqrt(self.embedding) + self.pe[: x.shape[1]])

    def encode(self, src: Tensor, src_lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """src (B, S) ids, src_lengths (B,) -> memory: encoder outputs (B, S, E) and the source
        padding mask (B, S) (True on padding); both batch-first, for ``index_select(0, ...)``."""
        check_ids("src", src, self.num_features, self.max_length)
        if src_lengths is not None:
            src_lengths = check_lengths(src_lengths, src)  # None when every source is full
        pad = padding_mask(src, src_lengths)  # (B, S)
        enc = self.encoder(self._embed(self.src_embed, src), src_key_padding_mask=pad)
        return enc, pad  # (B, S, E), (B, S)

    def decode(self, memory: tuple[Tensor, Tensor], tgt_in: Tensor) -> Tensor:
        """Logits (B, T, V) of the next target token after each of tgt_in (B, T)."""
        enc, pad = memory
        check_ids("tgt_in", tgt_in, self.num_classes, self.max_length)
        T = tgt_in.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).triu(1)  # (T, T)
        d = self.decoder(
            self._embed(self.tgt_embed, tgt_in),
            enc,
            tgt_mask=causal,
            memory_key_padding_mask=pad,
            tgt_is_causal=True,
        )  # (B, T, E)
        return self.out(d)

    def forward(self, src: Tensor, src_lengths: Tensor | None, tgt_in: Tensor) -> Tensor:
        """src (B, S), src_lengths (B,), tgt_in (B, T) -> logits (B, T, V)."""
        return self.decode(self.encode(src, src_lengths), tgt_in)
