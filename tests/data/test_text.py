import json
import unicodedata
from collections import Counter

import pytest
import torch

from nnzoo.data.base import DataError
from nnzoo.data.text import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary, encode_batch, tokenize
from nnzoo.errors import ConfigError

SENTENCES = [
    "¿Dónde está la biblioteca?",
    "La biblioteca está cerca de la plaza.",
    "¡Hola! ¿Cómo estás?",
    "I don't know where the library is, but it's near the square.",
    "The library opens at 9 and closes at 21.",
]


@pytest.mark.parametrize(
    ("text", "lower", "expected"),
    [
        ("¿Dónde está la biblioteca?", True, ["¿", "dónde", "está", "la", "biblioteca", "?"]),
        ("¡Hola, señor Muñoz!", False, ["¡", "Hola", ",", "señor", "Muñoz", "!"]),
        ("Über-cool pingüino", True, ["über", "-", "cool", "pingüino"]),
        ("I don't have 25 euros...", True, ["i", "don't", "have", "25", "euros", ".", ".", "."]),
        ("Rock 'n' roll", True, ["rock", "'", "n", "'", "roll"]),
        ("It’s 3.5 km", False, ["It’s", "3", ".", "5", "km"]),
        ("STRASSE Straße", True, ["strasse", "strasse"]),
        ("  \t\n ", True, []),
    ],
)
def test_word_tokens(text, lower, expected):
    assert tokenize(text, lower=lower) == expected


def test_composed_and_decomposed_accents_tokenize_the_same():
    composed = "Está el niño en Zürich"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed and len(decomposed) > len(composed)
    for level in ("word", "char"):
        assert tokenize(decomposed, level=level) == tokenize(composed, level=level)
    assert tokenize(decomposed) == ["está", "el", "niño", "en", "zürich"]
    # a combining accent with no composed form stays inside its word
    assert tokenize("q\u0301ue") == ["q\u0301ue"]


def test_character_level_keeps_every_character():
    assert tokenize("Sí, ¡ya!", level="char") == ["s", "í", ",", " ", "¡", "y", "a", "!"]
    assert tokenize("Ab c", level="char", lower=False) == ["A", "b", " ", "c"]
    assert tokenize("e\u0301", level="char") == ["é"]


def test_bad_tokenize_arguments():
    with pytest.raises(ConfigError, match="level='words': expected one of word, char"):
        tokenize("a", level="words")
    with pytest.raises(ConfigError, match="expected a text"):
        tokenize(["a"])


def reference_order(token_lists, min_freq=1, max_size=None):
    """Tokens by descending count, ties alphabetical, from a Counter, specials first."""
    counts = Counter(t for tokens in token_lists for t in tokens)
    by_count = {}
    for token, n in counts.items():
        if n >= min_freq:
            by_count.setdefault(n, []).append(token)
    order = [t for n in sorted(by_count, reverse=True) for t in sorted(by_count[n])]
    tokens = list(SPECIALS) + order
    return tokens if max_size is None else tokens[:max_size]


@pytest.mark.parametrize(("min_freq", "max_size"), [(1, None), (2, None), (1, 10), (2, 6), (1, 4)])
def test_vocabulary_order_min_freq_and_max_size(min_freq, max_size):
    token_lists = [tokenize(s) for s in SENTENCES]
    vocab = Vocabulary.build(token_lists, min_freq=min_freq, max_size=max_size)
    assert vocab.tokens == reference_order(token_lists, min_freq, max_size)
    assert vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    assert len(vocab) == len(vocab.tokens)


def test_vocabulary_order_by_hand():
    vocab = Vocabulary.build([["b", "a", "c"], ["c", "b", "d"], ["c"]], min_freq=1)
    # counts: c 3, b 2, then a and d tie at 1 (alphabetical)
    assert vocab.tokens[4:] == ["c", "b", "a", "d"]
    assert "c" in vocab and "z" not in vocab
    assert vocab.id("c") == 4 and vocab.id("z") == UNK and vocab.token(5) == "b"
    assert Vocabulary.build([["a"]], min_freq=2).tokens == list(SPECIALS)


def test_special_strings_in_the_data_are_not_counted_twice():
    vocab = Vocabulary.build([["<unk>", "x", "<pad>"]])
    assert vocab.tokens == [*SPECIALS, "x"]


def test_own_specials_follow_the_four():
    vocab = Vocabulary.build([["x"]], specials=(*SPECIALS, "<sep>"))
    assert vocab.tokens == [*SPECIALS, "<sep>", "x"]
    assert vocab.decode([BOS, 4, 5, EOS]) == ["<sep>", "x"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_freq": 0}, "min_freq=0: expected an integer >= 1"),
        ({"max_size": 3}, "max_size=3: expected None or an integer >= 4"),
        ({"specials": ("<unk>", "<pad>")}, "specials=.*expected them to start with"),
        ({"level": "byte"}, "level='byte'"),
    ],
)
def test_bad_build_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Vocabulary.build([["a"]], **kwargs)


def test_build_refuses_raw_text():
    with pytest.raises(ConfigError, match="tokenize it first"):
        Vocabulary.build(["una frase"])


def test_encode_decode_round_trip():
    token_lists = [tokenize(s) for s in SENTENCES]
    vocab = Vocabulary.build(token_lists)
    for tokens in token_lists:
        ids = vocab.encode(tokens, bos=True, eos=True)
        assert ids[0] == BOS and ids[-1] == EOS and len(ids) == len(tokens) + 2
        assert vocab.decode(ids) == tokens
        assert vocab.decode(torch.tensor([*ids, PAD, PAD])) == tokens
        assert vocab.decode(ids, strip_specials=False) == ["<bos>", *tokens, "<eos>"]


def test_unknown_tokens_encode_as_unk_and_decode_as_unk():
    vocab = Vocabulary.build([["la", "casa"]])  # a tie: casa 4, la 5
    assert vocab.encode(["la", "perro", "casa"]) == [5, UNK, 4]
    assert vocab.decode([5, UNK]) == ["la", "<unk>"]
    with pytest.raises(ConfigError, match="token id 99: expected an id in 0..5"):
        vocab.decode([99])


def test_save_load_round_trip(tmp_path):
    token_lists = [tokenize(s, level="char", lower=False) for s in SENTENCES]
    vocab = Vocabulary.build(token_lists, level="char", lower=False)
    path = vocab.save(tmp_path / "sub" / "vocab.json")
    value = json.loads(path.read_text(encoding="utf-8"))
    assert value == {
        "format": "nnzoo-vocabulary-1",
        "level": "char",
        "lower": False,
        "tokens": vocab.tokens,
    }
    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens and (loaded.level, loaded.lower) == ("char", False)
    assert loaded.encode(token_lists[0]) == vocab.encode(token_lists[0])
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temporary left


GOOD = {"format": "nnzoo-vocabulary-1", "level": "word", "lower": True, "tokens": [*SPECIALS, "a"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (dict(GOOD, format="other-1"), "format is 'other-1', not 'nnzoo-vocabulary-1'"),
        ({k: v for k, v in GOOD.items() if k != "tokens"}, "no tokens key"),
        ({"format": "nnzoo-vocabulary-1"}, "no level, lower, tokens key"),
        (dict(GOOD, level="byte"), "level is 'byte'"),
        (dict(GOOD, lower="yes"), "lower is 'yes', expected true or false"),
        (dict(GOOD, tokens="abc"), "tokens is not a list of strings"),
        (dict(GOOD, tokens=[*SPECIALS, 5]), "tokens is not a list of strings"),
        (dict(GOOD, tokens=[*SPECIALS, "a", "b", "a"]), "token 'a' appears more than once"),
        (dict(GOOD, tokens=["<pad>", "<unk>", "a"]), "do not start with the specials"),
        (dict(GOOD, tokens=["<unk>", "<pad>", "<bos>", "<eos>"]), "do not start with"),
        (None, "no such file"),
    ],
)
def test_bad_vocabulary_files_are_one_line_data_errors(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DataError, match=message) as caught:
        Vocabulary.load(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(path))


def test_encode_batch_pads_and_gives_lengths():
    vocab = Vocabulary([*SPECIALS, "la", "casa", "?", "¿"])
    texts = ["¿La casa?", "la", "La casa la casa perro"]
    ids, lengths = encode_batch(texts, vocab)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    expected = [[7, 4, 5, 6, 0], [4, 0, 0, 0, 0], [4, 5, 4, 5, UNK]]
    assert ids.tolist() == expected
    assert lengths.tolist() == [4, 1, 5]

    ids, lengths = encode_batch(texts, vocab, bos=True, eos=True)
    assert ids.tolist() == [
        [BOS, 7, 4, 5, 6, EOS, 0],
        [BOS, 4, EOS, 0, 0, 0, 0],
        [BOS, 4, 5, 4, 5, UNK, EOS],
    ]
    assert lengths.tolist() == [6, 3, 7]


def test_encode_batch_truncates_keeping_eos():
    vocab = Vocabulary([*SPECIALS, "a", "b", "c"])
    ids, lengths = encode_batch(["a b c a b", "c"], vocab, max_length=3)
    assert ids.tolist() == [[4, 5, 6], [6, 0, 0]] and lengths.tolist() == [3, 1]
    ids, lengths = encode_batch(["a b c a b"], vocab, max_length=4, bos=True, eos=True)
    assert ids.tolist() == [[BOS, 4, 5, EOS]] and lengths.tolist() == [4]
    with pytest.raises(ConfigError, match="max_length=2: expected None or an integer >= 3"):
        encode_batch(["a"], vocab, max_length=2, bos=True, eos=True)


def test_encode_batch_level_and_case_default_to_the_vocabulary():
    vocab = Vocabulary([*SPECIALS, "a", "A", " "], level="char", lower=False)
    ids, lengths = encode_batch(["Aa a"], vocab)
    assert ids.tolist() == [[5, 4, 6, 4]] and lengths.tolist() == [4]
    ids, _ = encode_batch(["Aa"], vocab, lower=True)
    assert ids.tolist() == [[4, 4]]
    ids, _ = encode_batch(["a a"], vocab, level="word")
    assert ids.tolist() == [[4, 4]]


def test_empty_text_becomes_one_unk_or_an_error():
    vocab = Vocabulary([*SPECIALS, "a"])
    ids, lengths = encode_batch(["a a", "", "  "], vocab)
    assert ids.tolist() == [[4, 4], [UNK, PAD], [UNK, PAD]] and lengths.tolist() == [2, 1, 1]
    ids, lengths = encode_batch([""], vocab, bos=True)
    assert ids.tolist() == [[BOS]] and lengths.tolist() == [1]
    with pytest.raises(DataError, match=r"text 1 \(''\) has no tokens") as caught:
        encode_batch(["a", ""], vocab, allow_empty=False)
    assert "\n" not in str(caught.value)
    ids, lengths = encode_batch([], vocab)
    assert ids.shape == (0, 0) and lengths.shape == (0,)


def test_encode_batch_refuses_one_text():
    with pytest.raises(ConfigError, match="got one text"):
        encode_batch("una frase", Vocabulary(list(SPECIALS)))
