"""``deep-conv-lstm`` and ``cnn1d``: convolutional models of raw sensor windows (human activity
recognition, UCI HAR: x (B, 128, 9), 6 classes) -> class logits (B, C).

Shape legend: B batch, T time, F sensor channels (features per step), K kernel, M feature maps,
L convolutions, H hidden, C classes.

``deep-conv-lstm``, DeepConvLSTM (Ordóñez & Roggen 2016, Sensors 16(1):115):

    a_0 = x                                       (B, T, F)
    a_l = relu(conv_K(a_{l-1})),  l = 1..L         (B, T - l(K - 1), M)   valid, no pooling
    o_1..o_T' = Recurrent(dropout(a_L))            (B, T', H)  any cell; dropout between layers
    r = o_T'                                       (B, H)  the last step
    logits = W_c dropout(r) + b_c                  (B, C)

    T' = T - L (K - 1): T must be at least L (K - 1) + 1 (17 for the defaults).

Parameters with ``conv="mixed"`` (each convolution mixes all channels, nn.Conv1d) and the
``lstm`` cell (torch's layout, two biases): F M K + M for the first convolution,
(L - 1)(M M K + M) for the others, 4 (I H + H H + 2 H) per recurrent layer (I = M for the
first, H above), H C + C for the head. For UCI HAR and the defaults (F = 9, M = 64, K = 5,
L = 4, H = 128, 2 layers, C = 6):

    2,944 + 3 * 20,544 + 99,328 + 132,096 + 774 = 296,774

With ``conv="per-channel"`` (the paper's K x 1 kernels: every channel is convolved apart with
the same kernels, nn.Conv2d on (B, 1, T, F)) the first convolution has M K + M weights and the
first recurrent layer reads I = M F features per step (the maps of every channel, flattened
filter-major): 384 + 61,632 + 361,472 + 132,096 + 774 = 556,358 for UCI HAR.

Dropout, where the paper's text places it: on the input of EVERY recurrent layer (the
convolutional features before the first, Recurrent's between-layer dropout before the others)
and on r before the output layer, the same ``dropout`` for all; none in the convolutions.
(A copy of the paper's Lasagne code seen here has no dropout at all, and a Keras
re-implementation drops after each LSTM layer only, not before the first.)

Confirmed here from the paper's Lasagne code (as copied in public repositories) and a Keras
re-implementation (DANA, Malekzadeh et al. 2021): four valid convolutions of 64 maps with
5 x 1 kernels on (B, 1, T, F), the maps reshaped to (B, T', 64 F), two LSTM layers of 128,
the last step, a softmax layer; DANA's dropout is 0.5.

Variable length: supported. Valid convolutions shrink a sequence of length n to
n - L (K - 1) steps, and the first n - L (K - 1) outputs of a padded sequence depend on its own
steps only, so the recurrent layers run on those lengths and r is each sequence's own last
step: a padded sequence gets exactly the logits it gets alone. A sequence shorter than
L (K - 1) + 1 is refused.

Where it departs from the paper, and why:

- ``conv="mixed"`` is the default, as in most PyTorch re-implementations: one 1-D
  convolution over all F channels (F M K weights) rather than the paper's per-channel K x 1
  kernels, whose recurrent input, M F wide, grows with the number of sensors; the paper's
  layer is ``conv="per-channel"``.
- The paper's LSTM (Lasagne's LSTMLayer) has diagonal peepholes and one bias per gate:
  ``cell="peephole-lstm"`` is that cell, parameter for parameter; the default ``lstm`` is
  torch's (no peepholes, two biases), as the rest of nnzoo.
- The paper's readout is the softmax of the last step, trained with the last step's label;
  here the logits of the last step (the loss applies the softmax).
- ``bidirectional`` is not in the paper; as in ``sequence-classifier``, r is then the forward
  half at the last step and the backward half at the first step.

``cnn1d``, the convnet of Ronao & Cho (2016, Expert Systems with Applications 59:235-244,
"Human activity recognition with smartphone sensors using deep learning neural networks"):

    a_0 = x                                        (B, T_0, F),  T_0 = T = ``steps``
    a_k = maxpool_P(relu(conv_K(a_{k-1})))          (B, T_k, M_k),  T_k = T_{k-1} // P
                                                    'same' padding: only the pools shrink T
    r = flatten(a_n)                                (B, D),  D = M_n T_n
    z = dropout(relu(W_h r + b_h))                  (B, dense)
    logits = W_o z + b_o                            (B, C)

    T_n >= 1 needs T >= P^n (27 for three pools of 3).

Parameters (``conv="mixed"``): K M_{k-1} M_k + M_k per convolution (M_0 = F), D dense + dense,
dense C + C. For UCI HAR (T = 128: T_k 128, 42, 14, 4; D = 192 * 4 = 768) and the defaults
(widths 96, 192, 192; K = 9; P = 3; dense 1000; C = 6):

    7,872 + 166,080 + 331,968 + 769,000 + 6,006 = 1,280,926

(``conv="per-channel"``: the first convolution K M_1 + M_1, D = M_n T_n F.)

What of the paper is known here: its text was not at hand. Its abstract (as recalled, not
verified here) reports 94.79% on the raw test set (95.75% with an FFT of it) and finds filter
sizes 1x9 to 1x14 and pooling sizes 1x2 to 1x3 best. The best configuration (3 convolutional
layers of 96, 192, 192 feature maps, filter 1x9, pooling 1x3, one fully connected layer of 1000
units, dropout before the output, L2 weight decay 5e-5) is taken from a third-party Keras
re-implementation (DANA, Malekzadeh et al. 2021), not from the paper's text.
Not confirmed, and chosen here:

- ``dropout = 0.5``: the re-implementation drops 0.8 (Keras ``Dropout(0.8)``); if the paper's
  0.8 is Srivastava et al.'s retain probability the drop is 0.2; 0.5 is the common default.
- 'same' padding (the re-implementation's) and pools of stride P, flooring (Keras's default).
- ``conv="mixed"``: the re-implementation convolves every channel apart with 9 x 1 kernels
  (``conv="per-channel"`` here); 1-D convolutions over all channels are the default.
- Training settings (the weight decay, learning rate and momentum) belong to ``[train]``.

The dense layer is sized for ``steps`` time steps (UCI HAR's 128), so ``cnn1d`` takes only
sequences of exactly that length: other lengths, or ``lengths`` shorter than T, are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nnzoo.cells.base import check_bool, check_choice, check_features, check_positive_int
from nnzoo.errors import ConfigError
from nnzoo.layers.recurrent import Recurrent
from nnzoo.layers.scan import check_lengths
from nnzoo.models import MODELS
from nnzoo.models.image import check_dropout, check_widths

CONVS = ("mixed", "per-channel")


def temporal_conv(conv: str, c_in: int, c_out: int, kernel: int, padding: str) -> nn.Module:
    """A convolution along time: over all channels ("mixed", nn.Conv1d on (B, F, T)) or over
    each channel apart with shared kernels ("per-channel", a K x 1 nn.Conv2d on (B, 1, T, F))."""
    if conv == "mixed":
        return nn.Conv1d(c_in, c_out, kernel, padding=padding)
    return nn.Conv2d(c_in, c_out, (kernel, 1), padding=padding)


def temporal_pool(conv: str, pool: int) -> nn.Module:
    return nn.MaxPool1d(pool) if conv == "mixed" else nn.MaxPool2d((pool, 1))


def to_maps(conv: str, x: Tensor) -> Tensor:
    """x (B, T, F) -> (B, F, T) for "mixed", (B, 1, T, F) for "per-channel"."""
    return x.transpose(1, 2) if conv == "mixed" else x.unsqueeze(1)


def to_steps(conv: str, a: Tensor) -> Tensor:
    """Feature maps (B, M, T) or (B, M, T, F) -> (B, T, M) or (B, T, M F), filter-major."""
    return a.transpose(1, 2) if conv == "mixed" else a.permute(0, 2, 1, 3).flatten(2)


def check_full_length(model: str, lengths: Any, x: Tensor) -> None:
    """Refuse ``lengths`` shorter than x's T: the model reads every step."""
    if lengths is not None and check_lengths(lengths, x) is not None:
        lo = int(torch.as_tensor(lengths).min())
        raise ConfigError(
            f"{model}: needs full-length sequences, got lengths down to {lo} of T={x.shape[1]}; "
            "pad or crop every sequence to the same length"
        )


@MODELS.register("deep-conv-lstm")
class DeepConvLSTM(nn.Module):
    """Valid convolutions along time + ReLU, recurrent layers of any cell, the last step, Linear.

    Args:
        input_size: F, sensor channels per step.
        num_classes: C.
        conv_layers: L, the convolutions (4 in the paper).
        filters: M, feature maps of every convolution (64).
        kernel: K, the kernel's length in time (5); each convolution takes K - 1 steps off.
        cell: registry name of the recurrent cell (``peephole-lstm`` is the paper's).
        hidden: H of every recurrent layer (128).
        layers: stacked recurrent layers (2).
        dropout: on the input of every recurrent layer and before the head (0.5).
        bidirectional: each recurrent layer reads both ways (not in the paper).
        cell_options: passed to every cell (e.g. ``window``, ``num_heads`` for larnn).
        conv: "mixed" (nn.Conv1d over all channels) or "per-channel" (the paper's K x 1 kernels).
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        conv_layers: int = 4,
        filters: int = 64,
        kernel: int = 5,
        cell: str = "lstm",
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.5,
        bidirectional: bool = False,
        cell_options: dict[str, Any] | None = None,
        conv: str = "mixed",
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.conv_layers = check_positive_int("conv_layers", conv_layers)
        self.filters = check_positive_int("filters", filters)
        self.kernel = check_positive_int("kernel", kernel)
        self.conv = check_choice("conv", conv, CONVS)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        p = check_dropout("dropout", dropout)
        if cell_options is not None and not isinstance(cell_options, Mapping):
            raise ConfigError(f"cell_options={cell_options!r}: expected a table of cell options")
        self.shrink = self.conv_layers * (self.kernel - 1)  # steps the convolutions take off
        self.min_steps = self.shrink + 1
        convs: list[nn.Module] = []
        c_in = input_size if conv == "mixed" else 1
        for _ in range(self.conv_layers):
            convs += [temporal_conv(conv, c_in, filters, kernel, "valid"), nn.ReLU()]
            c_in = filters
        self.convs = nn.Sequential(*convs)
        width = filters if conv == "mixed" else filters * input_size
        self.input_dropout = nn.Dropout(p)
        self.encoder = Recurrent(
            cell,
            width,
            hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            dropout=p,
            **dict(cell_options or {}),
        )
        self.output_dropout = nn.Dropout(p)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def _check_steps(self, n: int, what: str) -> None:
        if n < self.min_steps:
            raise ConfigError(
                f"deep-conv-lstm: {what} {n} steps, too short for {self.conv_layers} valid "
                f"convolutions of kernel {self.kernel} (each takes {self.kernel - 1} off); use "
                f"sequences of at least {self.min_steps} steps, or fewer conv_layers or a "
                "smaller kernel"
            )

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T, F), lengths (B,) or None -> the readout r (B, D), before dropout."""
        check_features("x", x, 3, "(B, T, F)", self.input_size, "input_size")
        self._check_steps(x.shape[1], "the input has")
        if lengths is not None:
            lengths = check_lengths(lengths, x)  # None when every sequence is full
        if lengths is not None:
            self._check_steps(int(lengths.min()), "the shortest sequence has")
            lengths = lengths - self.shrink  # (B,) each sequence's valid outputs
        a = self.convs(to_maps(self.conv, x))  # (B, M, T') or (B, M, T', F)
        z = to_steps(self.conv, a)  # (B, T', I)
        o, _ = self.encoder(self.input_dropout(z), lengths=lengths)  # (B, T', D)
        B, T, D = o.shape
        last = torch.full((B,), T - 1, device=o.device) if lengths is None else lengths - 1
        r = o[torch.arange(B, device=o.device), last]  # (B, D)
        if self.bidirectional:
            H = D // 2
            r = torch.cat([r[:, :H], o[:, 0, H:]], dim=-1)
        return r

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T, F), lengths (B,) or None -> logits (B, C)."""
        return self.head(self.output_dropout(self.features(x, lengths)))


@MODELS.register("cnn1d")
class CNN1D(nn.Module):
    """'Same' convolutions along time + ReLU + max-pool blocks, then Dense + ReLU + Dropout.

    Args:
        input_size: F, sensor channels per step.
        num_classes: C.
        widths: M_k, feature maps of each block (96, 192, 192).
        kernel: K, the kernel's length in time (9).
        pool: P, the max-pool's size and stride in time (3).
        dense: units of the fully connected layer (1000).
        dropout: before the output layer; 0 for none.
        steps: T, the window length the dense layer is built for (UCI HAR's 128); at least
            P^n for n blocks.
        conv: "mixed" (nn.Conv1d over all channels) or "per-channel" (K x 1 kernels shared by
            the channels).
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        widths: Sequence[int] = (96, 192, 192),
        kernel: int = 9,
        pool: int = 3,
        dense: int = 1000,
        dropout: float = 0.5,
        steps: int = 128,
        conv: str = "mixed",
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.widths = check_widths("widths", widths)
        self.kernel = check_positive_int("kernel", kernel)
        self.pool = check_positive_int("pool", pool)
        check_positive_int("dense", dense)
        p = check_dropout("dropout", dropout)
        self.steps = check_positive_int("steps", steps)
        self.conv = check_choice("conv", conv, CONVS)
        self.min_steps = pool ** len(self.widths)
        self._check_steps(steps, f"steps={steps}")
        blocks = []
        c_in = input_size if conv == "mixed" else 1
        for c_out in self.widths:
            blocks.append(
                nn.Sequential(
                    temporal_conv(conv, c_in, c_out, kernel, "same"),
                    nn.ReLU(),
                    temporal_pool(conv, pool),
                )
            )
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        t = steps
        for _ in self.widths:
            t //= pool
        flat = c_in * t * (1 if conv == "mixed" else input_size)
        classifier: list[nn.Module] = [nn.Flatten(), nn.Linear(flat, dense), nn.ReLU()]
        if p > 0:
            classifier.append(nn.Dropout(p))
        classifier.append(nn.Linear(dense, num_classes))
        self.classifier = nn.Sequential(*classifier)

    def _check_steps(self, n: int, what: str) -> None:
        if n < self.min_steps:
            n_blocks = len(self.widths)
            raise ConfigError(
                f"cnn1d: {what}, too short for the {n_blocks} max-pools of {self.pool} "
                f"of widths={list(self.widths)}; use sequences of at least {self.min_steps} "
                "steps, or fewer widths or a smaller pool"
            )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, T, F) with T = ``steps`` -> logits (B, C)."""
        check_features("x", x, 3, "(B, T, F)", self.input_size, "input_size")
        steps = x.shape[1]
        self._check_steps(steps, f"the input has {steps} steps")
        if steps != self.steps:
            raise ConfigError(
                f"cnn1d: built for T={self.steps} steps (model.options.steps), got T={steps}; "
                f"set model.options.steps = {steps}"
            )
        check_full_length("cnn1d", lengths, x)
        a = self.features(to_maps(self.conv, x))  # (B, M_n, T_n) or (B, M_n, T_n, F)
        return self.classifier(a)  # (B, C)
