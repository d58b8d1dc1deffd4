"""Beam search against greedy decoding and an exhaustive search; BLEU/chrF against sacrebleu;
the detokenizer."""

import itertools
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from nnzoo.config import ModelConfig, TaskConfig
from nnzoo.data import load_dataset
from nnzoo.data.text import EOS, PAD, SPECIALS
from nnzoo.data.tokens import TokenPairs
from nnzoo.errors import ConfigError
from nnzoo.models import create_model
from nnzoo.tasks import create_task
from nnzoo.tasks.seq2seq import beam_search, corpus_scores, detokenize, strip

pytestmark = pytest.mark.usefixtures("one_thread")

A, B = 4, 5  # the two words of the hand-made model; V = 6
V = 6

# P(next | prefix) of the hand-made model, per source row; any longer prefix: LONG
TABLES = [
    {  # greedy picks A (0.5), then A, then <eos>: 0.5 * 0.4 * 0.5 = 0.1; B <eos> is 0.36
        (): {A: 0.5, B: 0.4, EOS: 0.1},
        (A,): {A: 0.4, B: 0.3, EOS: 0.3},
        (B,): {EOS: 0.9, A: 0.05, B: 0.05},
    },
    {  # greedy is right here: A A <eos> = 0.6 * 0.9 * 0.95
        (): {A: 0.6, B: 0.3, EOS: 0.1},
        (A,): {A: 0.9, B: 0.05, EOS: 0.05},
        (A, A): {EOS: 0.95, A: 0.03, B: 0.02},
    },
]
LONG = {EOS: 0.5, A: 0.3, B: 0.2}


def probs(row: int, prefix: tuple[int, ...]) -> dict[int, float]:
    return TABLES[row].get(prefix, LONG)


class TableModel(nn.Module):
    """encode/decode whose next-token distribution is read off `TABLES` (row = src[:, 0])."""

    def encode(self, src, src_lengths):
        return (src[:, :1].clone(), src_lengths.clone())  # batch-first tensors

    def decode(self, memory, tgt_in):
        row, _ = memory
        out = torch.full((*tgt_in.shape, V), float("-inf"))
        for b, t in itertools.product(range(tgt_in.shape[0]), range(tgt_in.shape[1])):
            for token, p in probs(int(row[b, 0]), tuple(tgt_in[b, 1 : t + 1].tolist())).items():
                out[b, t, token] = math.log(p)
        return out


def exhaustive_best(row: int, alpha: float, longest: int) -> list[int]:
    """The best GNMT-normalised finished sequence of up to ``longest`` words, by enumeration
    with NumPy (no beam)."""
    best, best_score = None, -np.inf
    for n in range(longest + 1):
        for words in itertools.product((A, B), repeat=n):
            seq = (*words, EOS)
            logp = sum(np.log(probs(row, seq[:i])[seq[i]]) for i in range(len(seq)))
            score = logp / ((5 + len(seq)) / 6) ** alpha
            if score > best_score:
                best, best_score = list(words), score
    return best


def src_rows(rows):
    return torch.tensor([[r, 9] for r in rows]), torch.tensor([2] * len(rows))


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_search_finds_the_exhaustive_best_that_greedy_misses(alpha):
    src, lengths = src_rows([0, 1])
    task = create_task(TaskConfig("seq2seq"))
    model = TableModel()
    greedy = [
        [t for t in row if t not in (EOS, PAD)] for row in task.greedy(model, src, lengths, 6)
    ]
    best = [exhaustive_best(r, alpha, 5) for r in (0, 1)]
    assert best == [[B], [A, A]]
    assert greedy[0] == [A, A] != best[0]  # greedy misses row 0's best
    assert beam_search(model, src, lengths, beam=2, steps=6, alpha=alpha) == best
    assert beam_search(model, src, lengths, beam=1, steps=6, alpha=alpha) == greedy


def tiny_model(attention, seed, vocab=9):
    torch.manual_seed(seed)
    config = ModelConfig(name="seq2seq", cell="gru", hidden=6, layers=1,
                         options={"embedding": 5, "attention": attention})  # fmt: skip
    return create_model(config, vocab, vocab).eval()


@pytest.mark.parametrize("attention", ["luong", "bahdanau", "none"])
def test_beam_1_equals_greedy_on_a_real_model(attention):
    data = load_dataset("copy-reverse", seed=1, symbols=5, max_length=6, train_size=40,
                        val_size=2, test_size=2).train  # fmt: skip
    task = create_task(TaskConfig("seq2seq", {"beam": 1}))
    for seed in range(3):
        model = tiny_model(attention, seed)
        for steps in (3, 10):  # 3: most rows hit the cap without <eos>
            greedy = task.greedy(model, data.src, data.src_lengths, steps).tolist()
            expected = [strip(row) for row in greedy]  # before the first <eos> (or <pad>)
            got = beam_search(model, data.src, data.src_lengths, beam=1, steps=steps)
            assert got == expected


def test_beam_search_batches_like_one_source_at_a_time():
    data = load_dataset("copy-reverse", seed=2, symbols=5, max_length=6, train_size=12,
                        val_size=2, test_size=2).train  # fmt: skip
    model = tiny_model("bahdanau", 4)
    together = beam_search(model, data.src, data.src_lengths, beam=3, steps=8)
    alone = [
        beam_search(model, data.src[i : i + 1, : int(n)], data.src_lengths[i : i + 1], beam=3,
                    steps=8)[0]
        for i, n in enumerate(data.src_lengths)
    ]  # fmt: skip
    assert together == alone


def test_bad_beam_options_are_one_line():
    for options, match in (({"beam": 0}, "beam=0"), ({"length_penalty": -1}, "length_penalty")):
        with pytest.raises(ConfigError, match=match) as info:
            create_task(TaskConfig("seq2seq", options))
        assert "\n" not in str(info.value)


# -- BLEU, chrF and the detokenizer ------------------------------------------------------------

HYPOTHESES = ["the cat is on the mat.", "there is a dog here", "¿dónde está?"]
REFERENCES = ["the cat sat on the mat.", "a dog is here", "¿dónde está?"]


def test_corpus_scores_equal_sacrebleus_own_calls():
    sacrebleu = pytest.importorskip("sacrebleu")
    scores = corpus_scores(HYPOTHESES, REFERENCES)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score)
    assert scores["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score)
    assert 0 < scores["bleu"] < 100
    assert scores["bleu_signature"].startswith("nrefs:1|") and "tok:13a" in scores["bleu_signature"]
    assert "nc:6" in scores["chrf_signature"]
    perfect = corpus_scores(REFERENCES, REFERENCES)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)


def test_missing_sacrebleu_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu raises ImportError
    with pytest.raises(ConfigError, match=r'pip install "nnzoo\[text\]"') as info:
        corpus_scores(HYPOTHESES, REFERENCES)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "tokens, text",
    [
        (["¿", "dónde", "está", "?"], "¿dónde está?"),
        (["hola", ",", "¿", "qué", "tal", "?"], "hola, ¿qué tal?"),
        (["i'm", '"', "fine", '"', "."], 'i\'m "fine".'),
        (["¡", "ya", "!", "(", "sí", ")"], "¡ya! (sí)"),
        (["it", "costs", "25", "%", "."], "it costs 25%."),
        ([], ""),
    ],
)
def test_detokenize_reattaches_punctuation(tokens, text):
    assert detokenize(tokens) == text


class Oracle(nn.Module):
    """Decodes each source into the target stored for it: a perfect translator."""

    def __init__(self, answers):
        super().__init__()
        self.answers = answers

    def encode(self, src, src_lengths):
        return (src.clone(), src_lengths.clone())

    def decode(self, memory, tgt_in):
        src, lengths = memory
        out = torch.full((*tgt_in.shape, 14), -10.0)
        for b in range(tgt_in.shape[0]):
            target = self.answers[tuple(src[b, : int(lengths[b])].tolist())]
            for t in range(tgt_in.shape[1]):
                out[b, t, target[t] if t < len(target) else EOS] = 10.0
        return out

    def forward(self, src, src_lengths, tgt_in):
        return self.decode(self.encode(src, src_lengths), tgt_in)


@pytest.mark.parametrize("beam", [1, 3])
def test_a_perfect_translation_scores_bleu_100_against_the_original_sentences(beam):
    pytest.importorskip("sacrebleu")
    words = [*SPECIALS, "¿", "dónde", "está", "la", "biblioteca", "?", "hola", ",", "qué", "tal"]
    src = torch.tensor([[4, 5, 6, 7], [8, 0, 0, 0]])
    first, second = [4, 5, 6, 7, 8, 9], [10, 11, 4, 12, 13, 9]  # ¿ dónde ... ? / hola , ¿ ...
    tgt = torch.tensor([[*first, EOS], [*second, EOS]])
    data = TokenPairs(src, torch.tensor([4, 1]), tgt, torch.tensor([7, 7]))
    originals = ["¿Dónde está la biblioteca?", "Hola, ¿qué tal?"]  # with capitals
    data.texts = (["w x y z", "w"], originals)
    answers = {(4, 5, 6, 7): first, (8,): second}
    task = create_task(TaskConfig("seq2seq", {"beam": beam}))
    extra = {"vocabulary": words, "text": {"level": "word", "lower": True}}
    result = task.test(Oracle(answers), data, extra)
    assert result["bleu"] == pytest.approx(100.0) and result["chrf"] == pytest.approx(100.0)
    assert result["sequence_accuracy"] == 1.0
    assert [e["decoded"] for e in result["examples"]] == [t.lower() for t in originals]
    assert result["decoding"] == ("greedy" if beam == 1 else "beam 3, length penalty 0.6")
    # case kept (lower false): the lowercased decodings no longer match the originals
    extra["text"]["lower"] = False
    assert task.test(Oracle(answers), data, extra)["bleu"] < 100
