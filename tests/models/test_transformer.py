"""Token models against NumPy float64 references written from Vaswani et al. (2017): a pre-norm
encoder and decoder layer from their equations, fed the torch layers' weights; a bag of words
against np.bincount counts; parameter counts against formulas written out by hand."""

import warnings

import numpy as np
import pytest
import torch

from nnzoo.config import ModelConfig
from nnzoo.errors import ConfigError
from nnzoo.models import create_model
from nnzoo.models.summary import count_parameters
from nnzoo.models.transformer import (
    BagOfWords,
    TransformerClassifier,
    TransformerSeq2Seq,
    sinusoidal_table,
)
from nnzoo.tasks.seq2seq import Seq2Seq

pytestmark = pytest.mark.usefixtures("one_thread")

E, N, FF, V, C = 8, 2, 16, 11, 3
LENGTHS = torch.tensor([6, 2, 4, 1, 6])  # B = 5, T = 6: full, short, and a single token
TOL = {"atol": 1e-10, "rtol": 0}


def token_batch(lengths=LENGTHS, vocabulary=V, seed=0, extra=0):
    """(B, T + extra) ids in [1, V) on each text's real tokens, PAD = 0 after them; ``extra``
    PAD columns appended to the same ids."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, vocabulary, (len(lengths), int(lengths.max())), generator=g)
    x = x.masked_fill(torch.arange(x.shape[1])[None, :] >= lengths[:, None], 0)
    return torch.cat([x, torch.zeros(len(x), extra, dtype=torch.long)], dim=1)


def randomise(model, seed=1):
    """Every parameter drawn afresh (LayerNorm scales and biases too, so they are tested)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def float64(build, *args, **options):
    """The model built with float64 as the default dtype, so its position table is float64 too
    (a model's table is made in the default dtype; float32 rounds it to 1e-7)."""
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return randomise(build(*args, **options)).eval()
    finally:
        torch.set_default_dtype(dtype)


def classifier(**options):
    options = {
        "embedding": E,
        "heads": N,
        "feedforward": FF,
        "layers": 1,
        "dropout": 0.0,
        **options,
    }
    return float64(TransformerClassifier, V, C, **options)


# ----- the NumPy reference, from the paper's equations -----


def np_(t):
    return t.detach().numpy().astype(np.float64)


def pe_formula(length, width):
    """PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(p / 10000^(2i/E)), one by one."""
    pe = np.zeros((length, width))
    for p in range(length):
        for j in range(width):
            i = j // 2
            angle = p / 10000 ** (2 * i / width)
            pe[p, j] = np.sin(angle) if j % 2 == 0 else np.cos(angle)
    return pe


def layer_norm(x, ln):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # the biased variance
    return (x - mu) / np.sqrt(var + ln.eps) * np_(ln.weight) + np_(ln.bias)


def attention(q_in, kv_in, mha, heads, blocked):
    """Multi-head attention of q_in (T, E) over kv_in (S, E); blocked (T, S) True = -inf."""
    w, b = np_(mha.in_proj_weight), np_(mha.in_proj_bias)
    (wq, wk, wv), (bq, bk, bv) = np.split(w, 3), np.split(b, 3)
    q, k, v = q_in @ wq.T + bq, kv_in @ wk.T + bk, kv_in @ wv.T + bv
    dh = q.shape[1] // heads
    out = []
    for n in range(heads):
        cols = slice(n * dh, (n + 1) * dh)
        scores = q[:, cols] @ k[:, cols].T / np.sqrt(dh)  # (T, S)
        scores = np.where(blocked, -np.inf, scores)
        a = np.exp(scores - scores.max(1, keepdims=True))
        out.append((a / a.sum(1, keepdims=True)) @ v[:, cols])
    return np.concatenate(out, 1) @ np_(mha.out_proj.weight).T + np_(mha.out_proj.bias)


def feed_forward(x, layer):
    hidden = np.maximum(0.0, x @ np_(layer.linear1.weight).T + np_(layer.linear1.bias))
    return hidden @ np_(layer.linear2.weight).T + np_(layer.linear2.bias)


def encoder_layer(h, layer, heads, pad):
    """h + MHA(LN1 h), then a + FF(LN2 a): one pre-norm layer; pad (S,) masks the keys."""
    z = layer_norm(h, layer.norm1)
    a = h + attention(z, z, layer.self_attn, heads, np.broadcast_to(pad, (len(h), len(h))))
    return a + feed_forward(layer_norm(a, layer.norm2), layer)


def decoder_layer(y, memory, layer, heads, src_pad):
    T = len(y)
    z = layer_norm(y, layer.norm1)
    causal = np.triu(np.ones((T, T), dtype=bool), 1)
    a = y + attention(z, z, layer.self_attn, heads, causal)
    z = layer_norm(a, layer.norm2)
    c = a + attention(
        z, memory, layer.multihead_attn, heads, np.broadcast_to(src_pad, (T, len(memory)))
    )
    return c + feed_forward(layer_norm(c, layer.norm3), layer)


def embed_ref(weight, ids, positions):
    """sqrt(E) Emb(x) + P for one text's ids (T,)."""
    return np_(weight)[ids] * np.sqrt(weight.shape[1]) + positions[: len(ids)]


def classifier_ref(model, x, lengths, heads=N):
    """Per text, alone, on its real tokens only: logits (B, C) and the encoder outputs."""
    pos = (
        np_(model.position_embed.weight)
        if model.positions == "learned"
        else pe_formula(model.max_length, model.embedding)
    )
    logits, outputs = [], []
    for ids, n in zip(x.numpy(), lengths.tolist()):
        h = embed_ref(model.embed.weight, ids[:n], pos)
        for layer in model.encoder.layers:
            h = encoder_layer(h, layer, heads, np.zeros(n, dtype=bool))
        o = layer_norm(h, model.encoder.norm)  # (n, E)
        r = o.mean(0) if model.readout == "mean" else o[0]
        logits.append(r @ np_(model.head.weight).T + np_(model.head.bias))
        outputs.append(o)
    return np.stack(logits), outputs


# ----- TransformerClassifier -----


@pytest.mark.parametrize("width", [8, 7, 1])
def test_sinusoidal_table_is_vaswanis_formula(width):
    np.testing.assert_allclose(
        sinusoidal_table(40, width).double().numpy(), pe_formula(40, width), atol=1e-6, rtol=0
    )
    model = TransformerClassifier(V, C, embedding=8, heads=2, max_length=30)
    assert model.pe.shape == (30, 8) and "pe" not in model.state_dict()  # rebuilt, not saved
    np.testing.assert_allclose(model.pe.double().numpy(), pe_formula(30, 8), atol=1e-6, rtol=0)


@pytest.mark.parametrize("grad", [False, True])  # no_grad runs torch's fused fast path
@pytest.mark.parametrize("readout", ["mean", "first"])
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_classifier_equals_the_numpy_pre_norm_encoder(positions, readout, grad):
    model = classifier(positions=positions, readout=readout)
    x = token_batch()
    expected, outputs = classifier_ref(model, x, LENGTHS)
    with torch.set_grad_enabled(grad):
        np.testing.assert_allclose(np_(model(x, LENGTHS)), expected, **TOL)
        pad = torch.arange(x.shape[1])[None, :] >= LENGTHS[:, None]
        h = model.embed(x) * np.sqrt(E) + model.position_table(x.shape[1])
        o = model.encoder(h, src_key_padding_mask=pad)
    for i, n in enumerate(LENGTHS.tolist()):
        np.testing.assert_allclose(np_(o[i, :n]), outputs[i], **TOL)


def test_two_layers_equal_the_reference_applied_twice():
    model = classifier(layers=2, heads=4)
    x = token_batch(seed=5)
    expected, _ = classifier_ref(model, x, LENGTHS, heads=4)
    np.testing.assert_allclose(np_(model(x, LENGTHS)), expected, **TOL)


@pytest.mark.parametrize("readout", ["mean", "first"])
def test_extra_pad_columns_leave_the_logits_unchanged(readout):
    model = classifier(readout=readout, layers=2)
    x, wider = token_batch(), token_batch(extra=4)
    assert torch.equal(wider[:, : x.shape[1]], x) and not wider[:, x.shape[1] :].any()
    with torch.no_grad():
        torch.testing.assert_close(model(wider, LENGTHS), model(x, LENGTHS), **TOL)
    # the default float32 model, in training code's grad mode, with dropout off in eval
    model32 = randomise(TransformerClassifier(V, C, embedding=E, heads=N)).eval()
    torch.testing.assert_close(model32(wider, LENGTHS), model32(x, LENGTHS), atol=1e-5, rtol=0)


def test_first_and_mean_readouts_differ_and_lengths_none_is_every_text_full():
    mean, first = classifier(readout="mean"), classifier(readout="first")
    x = token_batch(torch.full((4,), 6))
    full = torch.full((4,), 6)
    for model in (mean, first):
        torch.testing.assert_close(model(x), model(x, full), **TOL)
    assert not torch.allclose(mean(x), first(x))
    # the first token of a one-token text is its only token: both readouts agree
    one = torch.tensor([[5], [2]])
    torch.testing.assert_close(mean(one), first(one), **TOL)


def test_no_warnings_in_training_or_evaluation():
    model = TransformerClassifier(V, C, embedding=E, heads=N)
    x = token_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.train()(x, LENGTHS).sum().backward()
        with torch.no_grad():
            model.eval()(x, LENGTHS)
            model(x)


def test_every_classifier_parameter_gets_a_gradient():
    model = TransformerClassifier(V, C, embedding=E, heads=N, positions="learned")
    torch.nn.functional.cross_entropy(model(token_batch(), LENGTHS), torch.arange(5) % C).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ----- BagOfWords -----


def counts_ref(x, lengths, binary=False):
    """The (B, V) count matrix: np.bincount of each text's real tokens, <pad> left out."""
    rows = [
        np.bincount(ids[:n], minlength=V).astype(np.float64)
        for ids, n in zip(x.numpy(), lengths.tolist())
    ]
    counts = np.stack(rows)
    counts[:, 0] = 0
    return (counts > 0).astype(np.float64) if binary else counts


@pytest.mark.parametrize("binary", [False, True])
def test_bag_of_words_is_counts_times_w_plus_b(binary):
    model = randomise(BagOfWords(V, C, binary_counts=binary).double())
    assert model.weight.weight[0].abs().sum() > 0  # even a non-zero <pad> row is left out
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, 4, (5, 9), generator=g)  # small ids: many repeats, some <pad> inside
    lengths = torch.tensor([9, 3, 5, 1, 7])
    W = np_(model.weight.weight).T  # (C, V)
    expected = counts_ref(x, lengths, binary) @ W.T + np_(model.bias)
    np.testing.assert_allclose(np_(model(x, lengths)), expected, **TOL)
    full = torch.full((5,), 9)
    np.testing.assert_allclose(
        np_(model(x)), counts_ref(x, full, binary) @ W.T + np_(model.bias), **TOL
    )


def test_bag_of_words_starts_at_zero_and_learns():
    model = BagOfWords(V, C)
    x = token_batch()
    assert not model(x, LENGTHS).any()
    torch.nn.functional.cross_entropy(model(x, LENGTHS), torch.arange(5) % C).backward()
    assert model.weight.weight.grad.abs().sum() > 0 and model.bias.grad.abs().sum() > 0


# ----- TransformerSeq2Seq -----

VT = 13  # target vocabulary
SRC_LENGTHS = torch.tensor([5, 2, 4, 1])


def seq2seq(**options):
    options = {
        "embedding": E,
        "heads": N,
        "feedforward": FF,
        "layers": 1,
        "dropout": 0.0,
        **options,
    }
    vt = V if options.get("share_embeddings") else VT
    return float64(TransformerSeq2Seq, V, vt, **options)


def target_in(vocabulary=VT, T=6, seed=3):
    """(B, T) decoder inputs: <bos> = 2, then tokens, some <pad> = 0 at the end of row 1."""
    g = torch.Generator().manual_seed(seed)
    tgt = torch.randint(3, vocabulary, (len(SRC_LENGTHS), T), generator=g)
    tgt[:, 0] = 2
    tgt[1, 4:] = 0
    return tgt


def seq2seq_ref(model, src, src_lengths, tgt_in, heads=N):
    pe = pe_formula(model.max_length, model.embedding)
    out = []
    for ids, n, y in zip(src.numpy(), src_lengths.tolist(), tgt_in.numpy()):
        m = embed_ref(model.src_embed.weight, ids[:n], pe)
        for layer in model.encoder.layers:
            m = encoder_layer(m, layer, heads, np.zeros(n, dtype=bool))
        m = layer_norm(m, model.encoder.norm)
        d = embed_ref(model.tgt_embed.weight, y, pe)
        for layer in model.decoder.layers:
            d = decoder_layer(d, m, layer, heads, np.zeros(n, dtype=bool))
        d = layer_norm(d, model.decoder.norm)
        out.append(d @ np_(model.out.weight).T + np_(model.out.bias))
    return np.stack(out)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("share", [False, True])
def test_seq2seq_equals_the_numpy_encoder_decoder(share, grad):
    model = seq2seq(share_embeddings=share)
    vt = model.num_classes
    src, tgt = token_batch(SRC_LENGTHS), target_in(vt)
    with torch.set_grad_enabled(grad):
        logits = model(src, SRC_LENGTHS, tgt)
    np.testing.assert_allclose(np_(logits), seq2seq_ref(model, src, SRC_LENGTHS, tgt), **TOL)


def test_logits_at_step_t_do_not_see_later_target_tokens():
    model = seq2seq(layers=2)
    src, tgt = token_batch(SRC_LENGTHS), target_in()
    with torch.no_grad():
        base = model(src, SRC_LENGTHS, tgt)
        for t in range(tgt.shape[1] - 1):
            changed = tgt.clone()
            changed[:, t + 1 :] = torch.randint(0, VT, changed[:, t + 1 :].shape)
            out = model(src, SRC_LENGTHS, changed)
            torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], **TOL)
            assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :])


def test_source_padding_and_tokens_past_the_length_change_nothing():
    model = seq2seq(layers=2)
    src, tgt = token_batch(SRC_LENGTHS), target_in()
    wider = token_batch(SRC_LENGTHS, extra=3)
    junk = wider.clone()
    junk[junk == 0] = 7  # real ids past each length: masked all the same
    base = model(src, SRC_LENGTHS, tgt)
    for other in (wider, junk):
        torch.testing.assert_close(model(other, SRC_LENGTHS, tgt), base, **TOL)


def test_memory_is_a_tuple_of_batch_first_tensors_that_index_select_reorders():
    model = seq2seq()
    src, tgt = token_batch(SRC_LENGTHS), target_in()
    memory = model.encode(src, SRC_LENGTHS)
    assert isinstance(memory, tuple) and all(isinstance(m, torch.Tensor) for m in memory)
    assert all(m.shape[0] == len(src) for m in memory)
    forward = model(src, SRC_LENGTHS, tgt)
    torch.testing.assert_close(model.decode(memory, tgt), forward, **TOL)
    beams = torch.tensor([2, 2, 0, 3, 1])  # a beam search's reordering, with repeats
    picked = tuple(m.index_select(0, beams) for m in memory)
    torch.testing.assert_close(model.decode(picked, tgt[beams]), forward[beams], **TOL)


def test_seq2seq_greedy_decoding_through_the_task():
    model = seq2seq()
    src = token_batch(SRC_LENGTHS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's fast path in eval and no_grad: no warning
        out = Seq2Seq().greedy(model, src, SRC_LENGTHS, 5)  # (B, 5)
    prefix = torch.full((len(src), 1), 2)
    for t in range(out.shape[1]):  # each token the argmax given the ones before, per text
        for i in range(len(src)):
            if out[i, t] == 0:
                continue
            ref = seq2seq_ref(model, src[i : i + 1], SRC_LENGTHS[i : i + 1], prefix[i : i + 1])
            assert out[i, t] == ref[0, -1].argmax()
        prefix = torch.cat([prefix, out[:, t : t + 1]], 1)


@pytest.mark.parametrize("share", [False, True])
def test_every_seq2seq_parameter_gets_a_gradient(share):
    vt = V if share else VT
    model = TransformerSeq2Seq(V, vt, embedding=E, heads=N, share_embeddings=share)
    tgt = target_in(vt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logits = model(token_batch(SRC_LENGTHS), SRC_LENGTHS, tgt)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vt), tgt.roll(-1, 1).reshape(-1))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ----- the registry and parameter counts -----


def encoder_layer_count(e, ff):
    return (3 * e * e + 3 * e) + (e * e + e) + (ff * e + ff) + (e * ff + e) + 2 * (2 * e)


def decoder_layer_count(e, ff):
    return 2 * (4 * e * e + 4 * e) + (ff * e + ff) + (e * ff + e) + 3 * (2 * e)


TINY = {"embedding": 8, "heads": 2, "feedforward": 16, "layers": 1}


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        # 11*8 embedding + one layer (288 attention + 280 feed-forward + 32 norms = 600)
        # + 16 final norm + 8*3+3 head
        ("transformer-classifier", TINY, 11 * 8 + 600 + 16 + 27),
        (
            "transformer-classifier",
            {**TINY, "positions": "learned", "max_length": 20},
            11 * 8 + 20 * 8 + 600 + 16 + 27,
        ),
        ("transformer-classifier", {**TINY, "layers": 3}, 11 * 8 + 3 * 600 + 16 + 27),
        ("bag-of-words", {}, 11 * 3 + 3),
        ("bag-of-words", {"binary_counts": True}, 11 * 3 + 3),
        # decoder layer: 2 * 288 attention + 280 feed-forward + 48 norms = 904
        ("transformer-seq2seq", TINY, 11 * 8 + 3 * 8 + 600 + 16 + 904 + 16 + 8 * 3 + 3),
    ],
)
def test_registry_builds_with_the_hand_counted_parameters(name, options, expected):
    assert encoder_layer_count(8, 16) == 600 and decoder_layer_count(8, 16) == 904
    model = create_model(ModelConfig(name=name, options=options), 11, 3)
    assert count_parameters(model) == expected
    x, lengths = token_batch(torch.tensor([3, 1])), torch.tensor([3, 1])
    if name == "transformer-seq2seq":
        assert model(x, lengths, torch.tensor([[2, 1], [2, 0]])).shape == (2, 2, 3)
    else:
        assert model(x, lengths).shape == (2, 3)


def test_shared_embeddings_are_counted_once():
    model = create_model(
        ModelConfig(name="transformer-seq2seq", options={**TINY, "share_embeddings": True}), 11, 11
    )
    assert model.src_embed.weight is model.tgt_embed.weight is model.out.weight
    assert count_parameters(model) == 11 * 8 + 600 + 16 + 904 + 16 + 11


# ----- errors -----


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TransformerClassifier(V, C, embedding=10, heads=4), "not divisible by heads=4"),
        (lambda: TransformerSeq2Seq(V, C, embedding=6, heads=4), "not divisible by heads=4"),
        (lambda: TransformerClassifier(V, C, readout="last"), "readout='last': expected one of"),
        (lambda: TransformerClassifier(V, C, positions="rope"), "positions='rope'"),
        (lambda: TransformerClassifier(V, C, dropout=1.0), "dropout=1.0"),
        (lambda: TransformerSeq2Seq(V, C, share_embeddings=True), "one vocabulary"),
        (lambda: BagOfWords(V, C, binary_counts="yes"), "binary_counts='yes'"),
    ],
)
def test_bad_options_are_one_line_config_errors(build, message):
    with pytest.raises(ConfigError, match=message) as e:
        build()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: TransformerClassifier(V, C, max_length=4)(token_batch()),
            "sequence of 6 tokens is longer than max_length=4; raise model.max_length or cut",
        ),
        (
            lambda: TransformerClassifier(V, C)(torch.randn(5, 6, 3)),
            r"takes token ids \(B, T\) of integers, e.g. from a text dataset; got a 3-D float32",
        ),
        (lambda: TransformerClassifier(V, C)(token_batch().float()), "got a 2-D float32"),
        (lambda: BagOfWords(V, C)(torch.randn(5, 6)), r"token ids \(B, T\)"),
        (lambda: TransformerClassifier(V, C)(token_batch() + V), "outside the vocabulary of 11"),
        (
            lambda: TransformerClassifier(V, C)(token_batch(), torch.tensor([7, 1, 1, 1, 1])),
            r"lengths: expected values in \[1, T=6\]",
        ),
        (
            lambda: TransformerSeq2Seq(V, VT, max_length=3).encode(token_batch(), LENGTHS),
            "src: sequence of 6 tokens is longer than max_length=3",
        ),
        (
            lambda: TransformerSeq2Seq(V, VT)(
                token_batch(SRC_LENGTHS), SRC_LENGTHS, target_in().float()
            ),
            "tgt_in: the model takes",
        ),
    ],
)
def test_bad_inputs_are_one_line_config_errors(call, message):
    with pytest.raises(ConfigError, match=message) as e:
        call()
    assert "\n" not in str(e.value)
