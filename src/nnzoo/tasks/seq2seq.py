r"""``seq2seq``: a target token sequence for each source sequence (translation-shaped problems).

Training uses teacher forcing: the decoder reads ``<bos> y_1 .. y_{n-1}`` and predicts
``y_1 .. y_n`` (``y_n`` = ``<eos>``) in one pass. With m_{bt} = 1 on the target steps that are
really there (padding masked out),

.. math::
    L = -\frac{\sum_{b,t} m_{bt} \log p_\theta(y_{bt} \mid y_{b,<t}, x_b)}{\sum_{b,t} m_{bt}}

the mean cross-entropy per target token. An evaluation reports that loss, the token accuracy
under teacher forcing (the share of target tokens whose argmax is right given the true prefix)
and the sequence accuracy of greedy decoding: each output token is the argmax given the
tokens decoded so far, until ``<eos>`` or ``max_decode`` tokens (default: the longest target
plus 2), and a sequence counts when its tokens up to ``<eos>`` equal the target exactly.

Data: `nnzoo.data.tokens.TokenPairs`; the model is called as ``model(src, src_lengths,
tgt_in)`` and returns (B, T, V) logits. Greedy decoding re-runs the (causal) decoder on the
prefix at each step: O(T²) decoder steps, exact for any cell, cheap at the lengths of these
problems; a decoder that carries its state between calls would make it O(T).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.data.tokens import BOS, EOS, PAD, TokenPairs
from nnzoo.errors import ConfigError
from nnzoo.tasks import TASKS
from nnzoo.tasks.base import Batch, Section, Step, Task, Totals, move

if TYPE_CHECKING:
    from nnzoo.runs.rundir import RunDir

EXAMPLES = 8  # decoded test examples in a report


def strip(tokens: list[int]) -> list[int]:
    """The tokens before the first ``<eos>`` (and without padding)."""
    out = []
    for t in tokens:
        if t in (EOS, PAD):
            break
        out.append(t)
    return out


@TASKS.register("seq2seq")
class Seq2Seq(Task):
    """Per-token cross-entropy with teacher forcing; greedy decoding.

    Args:
        max_decode: the most tokens greedy decoding emits; 0: the longest target + 2.
    """

    name = "seq2seq"
    metrics = ("sequence_accuracy", "token_accuracy", "loss")
    train_metrics = ("token_accuracy", "loss")

    def __init__(self, max_decode: int = 0) -> None:
        if isinstance(max_decode, bool) or not isinstance(max_decode, int) or max_decode < 0:
            raise ConfigError(f"task.options.max_decode={max_decode!r}: expected an integer >= 0")
        self.max_decode = max_decode

    def collate(self, data: TokenPairs, index: Tensor) -> Batch:
        """(src, src_lengths, tgt_in, tgt_out, tgt_lengths), trimmed to the longest."""
        src_lengths, tgt_lengths = data.src_lengths[index], data.tgt_lengths[index]
        src = data.src[index, : int(src_lengths.max())]  # (B, S)
        tgt_out = data.tgt[index, : int(tgt_lengths.max())]  # (B, T)
        bos = torch.full_like(tgt_out[:, :1], BOS)
        tgt_in = torch.cat([bos, tgt_out[:, :-1]], dim=1)  # (B, T), shifted right
        return src, src_lengths, tgt_in, tgt_out, tgt_lengths

    @staticmethod
    def _mask(tgt_out: Tensor, tgt_lengths: Tensor) -> Tensor:
        steps = torch.arange(tgt_out.shape[1], device=tgt_out.device)
        return steps[None, :] < tgt_lengths[:, None]  # (B, T)

    def step(self, model: nn.Module, batch: Batch) -> Step:
        src, src_lengths, tgt_in, tgt_out, tgt_lengths = batch
        logits = model(src, src_lengths, tgt_in)  # (B, T, V)
        mask = self._mask(tgt_out, tgt_lengths)
        loss = F.cross_entropy(logits[mask], tgt_out[mask])  # mean over real target tokens
        correct = int((logits.argmax(-1)[mask] == tgt_out[mask]).sum())
        return Step(loss, int(mask.sum()), {"correct": correct})

    def epoch_logs(self, totals: Totals) -> dict[str, float]:
        return {
            "loss": totals.loss_sum / totals.size,
            "token_accuracy": totals.counts["correct"] / totals.size,
        }

    @torch.no_grad()
    def greedy(self, model: nn.Module, src: Tensor, src_lengths: Tensor, steps: int) -> Tensor:
        """(B, steps) greedily decoded tokens (``<pad>`` after each sequence's ``<eos>``)."""
        memory = model.encode(src, src_lengths) if hasattr(model, "encode") else None
        out = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(steps):
            if memory is not None:
                logits = model.decode(memory, out)  # (B, t, V)
            else:
                logits = model(src, src_lengths, out)
            token = logits[:, -1].argmax(-1).masked_fill(done, PAD)  # (B,)
            out = torch.cat([out, token[:, None]], dim=1)
            done |= token == EOS
            if bool(done.all()):
                break
        return out[:, 1:]

    @torch.no_grad()
    def decode(self, model: nn.Module, data: TokenPairs, device: str = "cpu") -> list[list[int]]:
        """Each source's greedy decoding, its tokens before ``<eos>``."""
        model.eval()
        steps = self.max_decode or (int(data.tgt_lengths.max()) + 2 if len(data) else 0)
        out: list[list[int]] = []
        for batch in self.batches(data, self.eval_batch_size):
            src, src_lengths = move(batch[:2], device)
            out += [strip(row) for row in self.greedy(model, src, src_lengths, steps).tolist()]
        return out

    def evaluate(self, model: nn.Module, data: TokenPairs, device: str = "cpu"):
        if len(data) == 0:
            return dict.fromkeys(self.metrics, float("nan"))
        totals = self.summed(model, data, device)
        decoded = self.decode(model, data, device)
        exact = sum(d == strip(t) for d, t in zip(decoded, data.tgt.tolist()))
        return {"sequence_accuracy": exact / len(data), **self.epoch_logs(totals)}

    def test(self, model: nn.Module, data: TokenPairs, extra: dict[str, Any], device="cpu"):
        """The metrics and the first few test examples, decoded to text."""
        metrics = self.evaluate(model, data, device)
        first = data.subset(torch.arange(min(EXAMPLES, len(data))))
        vocab = extra["vocabulary"]

        def text(ids: list[int]) -> str:
            return " ".join(vocab[i] for i in ids)

        examples = [
            {"source": text(s[:n]), "target": text(strip(t)), "decoded": text(d)}
            for s, n, t, d in zip(
                first.src.tolist(), first.src_lengths.tolist(), first.tgt.tolist(),
                self.decode(model, first, device),
            )
        ]  # fmt: skip
        return {**metrics, "examples": examples}

    def model_dims(self, splits) -> dict[str, Any]:
        if not isinstance(splits.train, TokenPairs):
            raise ConfigError(
                f"task seq2seq: dataset {splits.name!r} has no source/target token pairs; "
                "use a token-pair dataset (e.g. copy-reverse), or task classify"
            )
        V = len(splits.class_names)
        return {"num_features": V, "num_classes": V, "input_shape": None}

    def data_extra(self, splits) -> dict[str, Any]:
        return {**self.model_dims(splits), "vocabulary": list(splits.class_names)}

    def sections(self, run: RunDir, results: dict[str, Any]) -> list[Section]:
        from nnzoo.report.markdown import table

        rows = [[e["source"], e["target"], e["decoded"], e["decoded"] == e["target"]]
                for e in results["test"].get("examples", [])]  # fmt: skip
        headers = ["source", "target", "greedy decoding", "exact"]
        return [("Decoded test examples (selected epoch, greedy)", table(rows, headers))]
