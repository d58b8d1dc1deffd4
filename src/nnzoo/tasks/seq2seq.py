r"""``seq2seq``: a target token sequence for each source sequence (translation-shaped problems).

Training uses teacher forcing: the decoder reads ``<bos> y_1 .. y_{n-1}`` and predicts
``y_1 .. y_n`` (``y_n`` = ``<eos>``) in one pass. With m_{bt} = 1 on the target steps that are
really there (padding masked out),

.. math::
    L = -\frac{\sum_{b,t} m_{bt} \log p_\theta(y_{bt} \mid y_{b,<t}, x_b)}{\sum_{b,t} m_{bt}}

the mean cross-entropy per target token. An evaluation (each epoch's validation) reports that
loss, the token accuracy under teacher forcing (the share of target tokens whose argmax is
right given the true prefix) and the sequence accuracy of GREEDY decoding: each output token
is the argmax given the tokens decoded so far, until ``<eos>`` or ``max_decode`` tokens
(default: the longest target plus 2), and a sequence counts when its tokens up to ``<eos>``
equal the target exactly. These stay cheap, for early stopping.

The one test evaluation decodes with `beam_search` (``beam`` hypotheses; ``beam = 1`` is
greedy decoding exactly) and adds corpus BLEU and chrF (``sacrebleu``, the ``text`` extra) of
the detokenized decodings against the original target sentences (the dataset's
``TokenPairs.texts``, case-folded as the vocabulary was; toys without texts: the detokenized
targets), with sacrebleu's signature strings, and decoded examples. Beam search ranks finished
hypotheses by the GNMT length-normalised score (Wu et al. 2016),

.. math::
    s(Y) = \frac{\log P(Y \mid X)}{lp(Y)}, \qquad lp(Y) = \left(\frac{5 + |Y|}{6}\right)^\alpha

with |Y| the tokens emitted, ``<eos>`` included, and alpha = ``length_penalty``, 0.6 by
default: the value of Vaswani et al. 2017 (beam 4, alpha 0.6) and of tensor2tensor, between
GNMT's own 0.2 (tuned with a coverage penalty nnzoo lacks) and 1 (a plain per-token mean,
which over-rewards long outputs); alpha = 0 ranks by the summed log-probability.

Data: `nnzoo.data.tokens.TokenPairs`; the model is called as ``model(src, src_lengths,
tgt_in)`` and returns (B, T, V) logits. Beam search needs ``model.encode(src, src_lengths)``
-> a tuple of batch-first tensors (the memory) and ``model.decode(memory, tgt_in)`` -> (B, T, V)
logits; greedy decoding uses them where the model has them. Both re-run the (causal) decoder
on the prefix at each step: O(T²) decoder steps, exact for any cell, cheap at the lengths of
these problems; a decoder that carries its state between calls would make it O(T).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
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
EXTREMES = 6  # test translations kept with the best and the worst sentence chrF
TEXT_EXTRA = 'pip install "nnzoo[text]"'

# punctuation that sticks to the token before it / after it when detokenizing
CLOSING = frozenset(".,!?;:%)]}»”’…")
OPENING = frozenset("¿¡([{«“‘")
QUOTES = frozenset('"')


def strip(tokens: list[int]) -> list[int]:
    """The tokens before the first ``<eos>`` (and without padding)."""
    out = []
    for t in tokens:
        if t in (EOS, PAD):
            break
        out.append(t)
    return out


def detokenize(tokens: Sequence[str]) -> str:
    """Word tokens back to text: spaces between them, punctuation re-attached.

    A closing mark (``. , ! ? ; : % ) ] } »``) joins the token before it, an opening one
    (``¿ ¡ ( [ { «``) the token after it, and straight double quotes alternate: the first of a
    pair opens, the second closes.

    >>> detokenize(["¿", "dónde", "está", "?"])
    '¿dónde está?'
    >>> detokenize(["i'm", '"', "fine", '"', "."])
    'i\\'m "fine".'
    """
    out: list[str] = []
    glue_next = True  # no space before the first token
    quote_open = False
    for token in tokens:
        closes = token in CLOSING or (token in QUOTES and quote_open)
        if not (glue_next or closes):
            out.append(" ")
        out.append(token)
        if token in QUOTES:
            quote_open = not quote_open
            glue_next = quote_open
        else:
            glue_next = token in OPENING
    return "".join(out)


def length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    """GNMT's lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha


def _check_memory(memory: Any) -> tuple[Tensor, ...]:
    if not isinstance(memory, tuple) or not all(isinstance(m, Tensor) for m in memory):
        raise ConfigError(
            "beam search: model.encode must return a tuple of batch-first tensors; "
            f"got {type(memory).__name__}"
        )
    return memory


@torch.no_grad()
def beam_search(
    model: nn.Module,
    src: Tensor,
    src_lengths: Tensor,
    *,
    beam: int,
    steps: int,
    alpha: float = 0.6,
) -> list[list[int]]:
    """The best-scoring decoding of each source by beam search (tokens before ``<eos>``).

    Each step extends every live hypothesis of a source by every token and keeps the 2k best
    extensions by log-probability (k = ``beam``). Those of them among the first k that end in
    ``<eos>`` are finished, scored by the length-normalised s(Y) (module docstring); the k best
    that do not are the new live hypotheses. A source is done once k hypotheses have
    finished, or after ``steps`` tokens, when its live ones join the finished. With k = 1 this
    is greedy decoding: the argmax finishes the search when it is ``<eos>`` and extends the
    hypothesis otherwise.

    Args:
        model: has ``encode(src, src_lengths)`` -> tuple of batch-first tensors and
            ``decode(memory, tgt_in)`` -> (B, T, V) logits.
        src: (B, S) source ids.
        src_lengths: (B,).
        beam: k >= 1.
        steps: the most tokens to emit, ``<eos>`` included.
        alpha: the length penalty's exponent.

    Returns:
        B lists of token ids, each without ``<bos>`` and ``<eos>``.
    """
    B, k, device = src.shape[0], beam, src.device
    memory = _check_memory(model.encode(src, src_lengths))
    rows = torch.arange(B, device=device).repeat_interleave(k)  # (B k,)
    memory = tuple(m.index_select(0, rows) for m in memory)  # each (B k, ...)
    seqs = torch.full((B * k, 1), BOS, dtype=torch.long, device=device)  # (B k, 1)
    scores = torch.full((B, k), float("-inf"), device=device)  # (B, k) summed log-probs
    scores[:, 0] = 0.0  # one live hypothesis per source at the start
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
    rank = torch.arange(2 * k, device=device)  # (2k,)
    for t in range(steps):
        logp = model.decode(memory, seqs)[:, -1].float().log_softmax(-1)  # (B k, V)
        V = logp.shape[-1]
        candidates = (scores[:, :, None] + logp.view(B, k, V)).view(B, k * V)  # (B, k V)
        width = min(2 * k, k * V)
        values, index = candidates.topk(width, dim=1)  # (B, 2k)
        origin, token = index // V, index % V  # (B, 2k) the hypothesis extended, its token
        is_eos = token == EOS
        finish = is_eos & (rank[:width] < k) & (values > float("-inf")) & ~done[:, None]
        for b, j in finish.nonzero().tolist():
            prefix = seqs[b * k + int(origin[b, j]), 1:].tolist()
            normed = float(values[b, j]) / length_penalty(t + 1, alpha)
            finished[b].append((normed, prefix))
        # the k best extensions that do not end: a stable sort puts them first, in rank order
        order = torch.where(is_eos, width + rank[:width], rank[:width]).argsort(dim=1)[:, :k]
        scores = values.gather(1, order)  # (B, k)
        parent = origin.gather(1, order) + torch.arange(B, device=device)[:, None] * k
        seqs = torch.cat([seqs[parent.view(-1)], token.gather(1, order).view(-1, 1)], dim=1)
        done |= torch.tensor([len(f) >= k for f in finished], device=device)
        if bool(done.all()):
            break
    out = []
    for b in range(B):
        pool = finished[b]
        if len(pool) < k:  # ran out of steps: the live hypotheses compete too
            n = seqs.shape[1] - 1
            pool = pool + [
                (float(scores[b, i]) / length_penalty(n, alpha), seqs[b * k + i, 1:].tolist())
                for i in range(k)
                if float(scores[b, i]) > float("-inf")
            ]
        out.append(strip(max(pool, key=lambda p: p[0])[1]))
    return out


def sacrebleu_module():
    """``sacrebleu``, or a one-line error saying how to install it."""
    try:
        import sacrebleu
    except ImportError:
        raise ConfigError(
            f"the seq2seq test scores BLEU and chrF with sacrebleu, which is not installed; "
            f"{TEXT_EXTRA}"
        ) from None
    return sacrebleu


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF (sacrebleu's defaults: 13a tokenization, exponential smoothing;
    chrF character 6-grams, beta 2) of ``hypotheses`` against one reference each, with
    sacrebleu's signature strings."""
    sacrebleu = sacrebleu_module()
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    return {
        "bleu": bleu.corpus_score(hypotheses, [references]).score,
        "chrf": chrf.corpus_score(hypotheses, [references]).score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }


def _fold(text: str, lower: bool) -> str:
    """``text`` as the tokenizer sees it before cutting: NFC, case-folded when ``lower``."""
    text = unicodedata.normalize("NFC", text)
    return unicodedata.normalize("NFC", text.casefold()) if lower else text


@TASKS.register("seq2seq")
class Seq2Seq(Task):
    """Per-token cross-entropy with teacher forcing; greedy or beam-search decoding.

    Args:
        max_decode: the most tokens decoding emits, ``<eos>`` included; 0: the longest
            target + 2.
        beam: hypotheses kept by the test's beam search; 1: greedy decoding.
        length_penalty: alpha of the GNMT length penalty that ranks finished hypotheses.
    """

    name = "seq2seq"
    metrics = ("sequence_accuracy", "token_accuracy", "loss")
    train_metrics = ("token_accuracy", "loss")

    def __init__(self, max_decode: int = 0, beam: int = 1, length_penalty: float = 0.6) -> None:
        if isinstance(max_decode, bool) or not isinstance(max_decode, int) or max_decode < 0:
            raise ConfigError(f"task.options.max_decode={max_decode!r}: expected an integer >= 0")
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
            raise ConfigError(f"task.options.beam={beam!r}: expected an integer >= 1 (1: greedy)")
        if (
            isinstance(length_penalty, bool)
            or not isinstance(length_penalty, (int, float))
            or not 0 <= length_penalty <= 5
        ):
            raise ConfigError(
                f"task.options.length_penalty={length_penalty!r}: expected a number in [0, 5], "
                "e.g. 0.6"
            )
        self.max_decode = max_decode
        self.beam = beam
        self.length_penalty = float(length_penalty)

    def decoding(self) -> str:
        """How the test decodes: ``greedy``, or ``beam 4, length penalty 0.6``."""
        if self.beam == 1:
            return "greedy"
        return f"beam {self.beam}, length penalty {self.length_penalty:g}"

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

    def steps_for(self, data: TokenPairs) -> int:
        """The most tokens to decode: ``max_decode``, else the longest target + 2."""
        return self.max_decode or (int(data.tgt_lengths.max()) + 2 if len(data) else 0)

    @torch.no_grad()
    def decode_ids(
        self, model: nn.Module, src: Tensor, src_lengths: Tensor, steps: int, beam: int = 1
    ) -> list[list[int]]:
        """Each source's decoding (greedy for ``beam`` 1, else beam search), before ``<eos>``."""
        if beam == 1:
            return [strip(row) for row in self.greedy(model, src, src_lengths, steps).tolist()]
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise ConfigError(
                f"task.options.beam={beam}: beam search needs a model with encode and decode "
                f"({type(model).__name__} has not); set beam = 1"
            )
        return beam_search(
            model, src, src_lengths, beam=beam, steps=steps, alpha=self.length_penalty
        )

    @torch.no_grad()
    def decode(
        self, model: nn.Module, data: TokenPairs, device: str = "cpu", beam: int = 1
    ) -> list[list[int]]:
        """Each source's decoding (greedy unless ``beam`` > 1), its tokens before ``<eos>``."""
        model.eval()
        steps = self.steps_for(data)
        out: list[list[int]] = []
        size = max(1, self.eval_batch_size // beam)
        for batch in self.batches(data, size):
            src, src_lengths = move(batch[:2], device)
            out += self.decode_ids(model, src, src_lengths, steps, beam)
        return out

    def _metrics(
        self, model: nn.Module, data: TokenPairs, device: str, decoded: list[list[int]]
    ) -> dict[str, float]:
        totals = self.summed(model, data, device)
        exact = sum(d == strip(t) for d, t in zip(decoded, data.tgt.tolist()))
        return {"sequence_accuracy": exact / len(data), **self.epoch_logs(totals)}

    def evaluate(self, model: nn.Module, data: TokenPairs, device: str = "cpu"):
        """Loss and token accuracy (teacher forcing), sequence accuracy of greedy decoding."""
        if len(data) == 0:
            return dict.fromkeys(self.metrics, float("nan"))
        return self._metrics(model, data, device, self.decode(model, data, device))

    def test(self, model: nn.Module, data: TokenPairs, extra: dict[str, Any], device="cpu"):
        """The metrics with ``beam`` decoding, BLEU and chrF, and the first test examples."""
        decoding = (
            "greedy"
            if self.beam == 1
            else f"beam {self.beam}, length penalty {self.length_penalty:g}"
        )
        if len(data) == 0:
            nan = float("nan")
            return {**dict.fromkeys(self.metrics, nan), "bleu": nan, "chrf": nan,
                    "decoding": decoding, "examples": []}  # fmt: skip
        decoded = self.decode(model, data, device, self.beam)
        metrics = self._metrics(model, data, device, decoded)
        target_words, source_words = vocabularies(extra)
        level = extra.get("text", {}).get("level", "word")
        lower = extra.get("text", {}).get("lower", True)

        def text(ids: list[int], words: list[str]) -> str:
            tokens = [words[i] for i in ids]
            return "".join(tokens) if level == "char" else detokenize(tokens)

        hypotheses = [text(d, target_words) for d in decoded]
        texts = getattr(data, "texts", None)
        if texts is not None:
            references = [_fold(s, lower) for s in texts[1]]
        else:
            references = [text(strip(t), target_words) for t in data.tgt.tolist()]

        def example(i: int) -> dict[str, str]:
            m = int(data.src_lengths[i])
            return {"source": text(data.src[i, :m].tolist(), source_words),
                    "target": references[i], "decoded": hypotheses[i]}  # fmt: skip

        examples = [example(i) for i in range(min(EXAMPLES, len(data)))]
        scores = corpus_scores(hypotheses, references)
        # the best and the worst translations by sentence chrF (ties: the first in the split)
        chrf = sacrebleu_module().metrics.CHRF()
        sentence = [chrf.sentence_score(h, [r]).score for h, r in zip(hypotheses, references)]
        order = sorted(range(len(data)), key=lambda i: (-sentence[i], i))
        k = min(EXTREMES, len(data) // 2)
        scores["best"] = [{**example(i), "chrf": sentence[i]} for i in order[:k]]
        scores["worst"] = [{**example(i), "chrf": sentence[i]} for i in order[::-1][:k]]
        return {**metrics, **scores, "decoding": decoding, "examples": examples}

    def headline(self, test: dict[str, Any]) -> str:
        line = super().headline(test)
        if isinstance(test.get("bleu"), float) and test["bleu"] == test["bleu"]:
            line += f", BLEU {test['bleu']:.2f}, chrF {test['chrf']:.2f}"
        return line

    def summary_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        rows = super().summary_rows(results)
        test = results["test"]
        for key in ("bleu", "chrf"):
            if key in test:
                rows.append([f"test {key} (selected epoch, {test.get('decoding', 'greedy')})",
                             test[key]])  # fmt: skip
        return rows

    def model_dims(self, splits) -> dict[str, Any]:
        if not isinstance(splits.train, TokenPairs):
            raise ConfigError(
                f"task seq2seq: dataset {splits.name!r} has no source/target token pairs; "
                "use a token-pair dataset (e.g. copy-reverse or tatoeba), or task classify"
            )
        V = len(splits.class_names)  # the target vocabulary, or both sides' (the toys)
        return {"num_features": splits.num_features if splits.vocabulary else V,
                "num_classes": V, "input_shape": None}  # fmt: skip

    def data_extra(self, splits) -> dict[str, Any]:
        """The sizes, the target ``vocabulary`` (the class names), the longest training target
        (``max_target_length``, ``<eos>`` included) and, for text data, the
        ``source_vocabulary`` tokens and the ``text`` options (``level``, ``lower``) that
        `nnzoo.runs.translate` encodes new sentences with."""
        extra = {**self.model_dims(splits), "vocabulary": list(splits.class_names)}
        lengths = splits.train.tgt_lengths
        extra["max_target_length"] = int(lengths.max()) if len(lengths) else 0
        source = splits.vocabulary
        if source is not None:
            extra["source_vocabulary"] = list(source.tokens)
            extra["text"] = {"level": source.level, "lower": source.lower}
        return extra

    def sections(self, run: RunDir, results: dict[str, Any]) -> list[Section]:
        from nnzoo.report.markdown import table

        test = results["test"]
        rows = [[e["source"], e["target"], e["decoded"], e["decoded"] == e["target"]]
                for e in test.get("examples", [])]  # fmt: skip
        decoding = test.get("decoding", "greedy")
        headers = ["source", "target", "decoded", "exact"]
        heading = f"Decoded test examples (selected epoch, {decoding})"
        body = table(rows, headers)
        if "bleu_signature" in test:
            body += (
                f"\n\nBLEU {test['bleu']:.2f} (`{test['bleu_signature']}`), chrF "
                f"{test['chrf']:.2f} (`{test['chrf_signature']}`), on detokenized text.\n"
            )
        return [(heading, body)]


def vocabularies(extra: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(target tokens, source tokens) of a checkpoint's ``extra``; one vocabulary serves both
    sides when it has no ``source_vocabulary`` (the toys)."""
    target = list(extra["vocabulary"])
    return target, list(extra.get("source_vocabulary", target))
