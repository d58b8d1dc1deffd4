"""SequenceClassifier against torch.nn.LSTM with copied weights, run on each sequence alone."""

import pytest
import torch

from nnzoo import Recurrent
from nnzoo.models import create_model
from nnzoo.models.sequence_classifier import SequenceClassifier

F_IN, H, C = 3, 5, 4
LENGTHS = torch.tensor([6, 2, 4, 1, 6])  # B = 5, T = 6: full, short, and a single step
TOL = {"atol": 1e-5, "rtol": 0}


pytestmark = pytest.mark.usefixtures("one_thread")


def padded_batch(lengths=LENGTHS, features=F_IN, seed=0):
    """(B, T, F) random values, zero past each sequence's length."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), int(lengths.max()), features, generator=g)
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    return x * mask.unsqueeze(-1)


def with_torch_lstm(layers=2, bidirectional=False, readout="last"):
    """A SequenceClassifier and a torch.nn.LSTM holding the same encoder weights."""
    lstm = torch.nn.LSTM(F_IN, H, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    model = SequenceClassifier(
        F_IN, C, cell="lstm", hidden=H, layers=layers, bidirectional=bidirectional, readout=readout
    )
    model.encoder.load_state_dict(Recurrent.from_torch(lstm).state_dict())
    return model.eval(), lstm.eval()


def head(model, r):
    """The linear head written out: r W^T + b."""
    return r @ model.head.weight.T + model.head.bias


def alone(lstm, x, length):
    """torch.nn.LSTM outputs (L, D) for one sequence with its padding cut off."""
    out, _ = lstm(x[None, :length])
    return out[0]


@pytest.mark.parametrize("fused", [True, False])
def test_last_readout_is_each_sequences_own_last_step(fused):
    model, lstm = with_torch_lstm()
    model.encoder.fused = fused
    x = padded_batch()
    with torch.no_grad():
        logits = model(x, LENGTHS)
        expected = torch.stack([alone(lstm, x[i], n)[-1] for i, n in enumerate(LENGTHS)])
        torch.testing.assert_close(model.features(x, LENGTHS), expected, **TOL)
        torch.testing.assert_close(logits, head(model, expected), **TOL)
        # without lengths every sequence is read to T, padding included
        full = torch.stack([alone(lstm, x[i], x.shape[1])[-1] for i in range(len(x))])
        torch.testing.assert_close(model(x), head(model, full), **TOL)


@pytest.mark.parametrize("fused", [True, False])
def test_bidirectional_last_is_forward_at_end_and_backward_at_start(fused):
    model, lstm = with_torch_lstm(bidirectional=True)
    model.encoder.fused = fused
    x = padded_batch()
    with torch.no_grad():
        rows = []
        for i, n in enumerate(LENGTHS):
            out = alone(lstm, x[i], n)  # (L, 2H)
            rows.append(torch.cat([out[-1, :H], out[0, H:]]))
        expected = torch.stack(rows)
        torch.testing.assert_close(model.features(x, LENGTHS), expected, **TOL)
        torch.testing.assert_close(model(x, LENGTHS), head(model, expected), **TOL)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_mean_readout_is_the_masked_mean(bidirectional):
    model, lstm = with_torch_lstm(bidirectional=bidirectional, readout="mean")
    x = padded_batch()
    with torch.no_grad():
        expected = torch.stack(
            [alone(lstm, x[i], n).sum(0) / n for i, n in enumerate(LENGTHS.tolist())]
        )
        torch.testing.assert_close(model.features(x, LENGTHS), expected, **TOL)
        torch.testing.assert_close(model(x, LENGTHS), head(model, expected), **TOL)


def test_attention_readout_by_hand_and_blind_to_padding():
    model, lstm = with_torch_lstm(readout="attention")
    x = padded_batch()
    with torch.no_grad():
        rows = []
        for i, n in enumerate(LENGTHS):
            o = alone(lstm, x[i], n)  # (L, H)
            a = model.attention[0]
            v = model.attention[2]
            scores = torch.tanh(o @ a.weight.T + a.bias) @ v.weight[0] + v.bias  # (L,)
            weights = torch.exp(scores - scores.max())
            rows.append((weights[:, None] * o).sum(0) / weights.sum())
        expected = torch.stack(rows)
        logits = model(x, LENGTHS)
        torch.testing.assert_close(model.features(x, LENGTHS), expected, **TOL)
        torch.testing.assert_close(logits, head(model, expected), **TOL)

        noisy = x.clone()
        pad = torch.arange(x.shape[1])[None, :] >= LENGTHS[:, None]  # (B, T)
        noisy[pad] = 1e3 * torch.randn(int(pad.sum()), F_IN)
        assert not torch.equal(noisy, x)
        torch.testing.assert_close(model(noisy, LENGTHS), logits, **TOL)


@pytest.mark.parametrize("readout", ["last", "mean", "attention"])
def test_padding_values_never_reach_the_logits(readout):
    model = SequenceClassifier(F_IN, C, cell="gru", hidden=H, layers=2, readout=readout).eval()
    x = padded_batch()
    noisy = x + 50.0 * (torch.arange(x.shape[1])[None, :, None] >= LENGTHS[:, None, None])
    with torch.no_grad():
        torch.testing.assert_close(model(noisy, LENGTHS), model(x, LENGTHS), **TOL)


def lstm_params(i, h):
    return 4 * h * (i + h) + 8 * h  # W_ih, W_hh, b_ih, b_hh


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("projection", [0, 7])
def test_parameter_counts_match_hand_formulas(projection, bidirectional):
    F, Hh, Cc, L = 9, 6, 5, 2
    D = 2 * Hh if bidirectional else Hh
    dirs = 2 if bidirectional else 1
    width = projection or F
    expected = (
        (projection * F + projection)  # projection Linear (0 when off)
        + dirs * lstm_params(width, Hh)  # layer 1
        + dirs * lstm_params(D, Hh)  # layer 2 reads both directions of layer 1
        + D * Cc + Cc  # head
    )  # fmt: skip
    model = SequenceClassifier(
        F, Cc, hidden=Hh, layers=L, bidirectional=bidirectional, projection=projection
    )
    assert count(model) == expected
    attention = SequenceClassifier(
        F, Cc, hidden=Hh, layers=L, bidirectional=bidirectional, projection=projection,
        readout="attention",
    )  # fmt: skip
    assert count(attention) == expected + (D * D + D) + (D + 1)


def test_projection_is_linear_then_activation():
    model = SequenceClassifier(
        F_IN, C, hidden=H, layers=1, projection=4, projection_activation="tanh"
    )
    lstm = torch.nn.LSTM(4, H, batch_first=True)
    model.encoder.load_state_dict(Recurrent.from_torch(lstm).state_dict())
    x = torch.randn(3, 5, F_IN)
    with torch.no_grad():
        lin = model.projection[0]
        z = torch.tanh(x @ lin.weight.T + lin.bias)
        out, _ = lstm(z)
        torch.testing.assert_close(model.eval()(x), head(model, out[:, -1]), **TOL)


def test_create_model_from_config_builds_the_same_network():
    from nnzoo.config import ModelConfig

    config = ModelConfig(cell="gru", hidden=7, layers=1, readout="mean", projection=3)
    model = create_model(config, 4, 3)
    assert isinstance(model, SequenceClassifier)
    expected = (3 * 4 + 3) + (3 * 7 * (3 + 7) + 6 * 7) + (7 * 3 + 3)  # GRU: 3 gates
    assert count(model) == expected


CELLS = [
    ("lstm", {}),
    ("gru", {}),
    ("larnn", {"window": 3, "num_heads": 2}),
    ("bn-lstm", {"max_length": 8}),
]


@pytest.mark.parametrize("readout", ["last", "mean", "attention"])
@pytest.mark.parametrize(("cell", "options"), CELLS, ids=[c for c, _ in CELLS])
def test_every_parameter_gets_a_gradient(cell, options, readout):
    model = SequenceClassifier(
        F_IN, C, cell=cell, hidden=4, layers=2, bidirectional=True, projection=4,
        readout=readout, cell_options=options,
    ).train()  # fmt: skip
    x = padded_batch()
    logits = model(x, LENGTHS)
    assert logits.shape == (len(LENGTHS), C)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.arange(len(LENGTHS)) % C).backward()
    # The score layer's bias shifts every step's score alike and softmax ignores a shift, so its
    # gradient is zero exactly (a loop over time may leave rounding there, a fused scan none).
    shift = "attention.2.bias"
    params = dict(model.named_parameters())
    if readout == "attention":
        assert params[shift].grad.abs().max() < 1e-6
    missing = [n for n, p in params.items() if n != shift and (p.grad is None or not p.grad.any())]
    assert not missing, f"no gradient for {missing}"


def test_bad_readout_and_projection_are_config_errors():
    from nnzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="readout"):
        SequenceClassifier(F_IN, C, readout="max")
    with pytest.raises(ConfigError, match="projection"):
        SequenceClassifier(F_IN, C, projection=-1)
    with pytest.raises(ConfigError, match="projection_activation"):
        SequenceClassifier(F_IN, C, projection=2, projection_activation="swish")


# -- token ids through an embedding ------------------------------------------------------------

V, E = 11, 4  # vocabulary size, embedding width


def padded_ids(lengths=LENGTHS, vocab=V, seed=0):
    """(B, T) random token ids in 1..V-1, <pad> = 0 past each sequence's length."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (len(lengths), int(lengths.max())), generator=g)
    return ids * (torch.arange(ids.shape[1])[None, :] < lengths[:, None])


def with_embedding(readout="mean", layers=1, **options):
    """A token-id SequenceClassifier and a torch.nn.LSTM holding the same encoder weights."""
    lstm = torch.nn.LSTM(E, H, num_layers=layers, batch_first=True)
    model = SequenceClassifier(
        V, C, cell="lstm", hidden=H, layers=layers, readout=readout, embedding=E, **options
    )
    model.encoder.load_state_dict(Recurrent.from_torch(lstm).state_dict())
    return model.eval(), lstm.eval()


@pytest.mark.parametrize("layers", [1, 2])
def test_token_ids_are_looked_up_then_read_like_features(layers):
    model, lstm = with_embedding(layers=layers, embedding_dropout=0.5)  # eval: no dropout
    table = model.embed[0].weight.detach().clone()  # (V, E)
    ids = padded_ids()
    with torch.no_grad():
        rows = []
        for i, n in enumerate(LENGTHS.tolist()):
            out, _ = lstm(table[ids[i, :n]][None])  # (1, L, H), padding cut off
            rows.append(out[0].mean(0))
        expected = torch.stack(rows)
        torch.testing.assert_close(model.features(ids, LENGTHS), expected, **TOL)
        torch.testing.assert_close(model(ids, LENGTHS), head(model, expected), **TOL)
        other = ids + (ids == 0) * torch.randint(1, V, ids.shape)  # other ids in the padding
        assert not torch.equal(other, ids)
        torch.testing.assert_close(model(other, LENGTHS), model(ids, LENGTHS), **TOL)


def test_the_pad_row_is_zero_and_gets_no_gradient():
    model = SequenceClassifier(V, C, hidden=H, layers=1, readout="mean", embedding=E).train()
    weight = model.embed[0].weight
    assert weight.shape == (V, E)
    assert not weight[0].any() and weight[1:].abs().sum(1).min() > 0
    ids = padded_ids()
    ids[0, 2] = 0  # a <pad> inside a sequence's length too
    torch.nn.functional.cross_entropy(
        model(ids, LENGTHS), torch.arange(len(LENGTHS)) % C
    ).backward()
    assert not weight.grad[0].any()
    used = torch.unique(ids[ids != 0])
    assert weight.grad[used].abs().sum(1).min() > 0  # every token read gets a gradient
    assert count(model) == V * E + lstm_params(E, H) + H * C + C


def test_ids_without_an_embedding_and_features_with_one_are_config_errors():
    from nnzoo.errors import ConfigError

    plain = SequenceClassifier(F_IN, C, hidden=H, layers=1)
    with pytest.raises(ConfigError, match="model.embedding to a width") as info:
        plain(padded_ids(vocab=F_IN), LENGTHS)
    assert "\n" not in str(info.value) and "(5, 6)" in str(info.value)
    embedded = SequenceClassifier(V, C, hidden=H, layers=1, embedding=E)
    with pytest.raises(ConfigError, match="set model.embedding = 0") as info:
        embedded(padded_batch(), LENGTHS)
    assert "\n" not in str(info.value) and "(5, 6, 3)" in str(info.value)
    for bad in (-1, 2.5, True):
        with pytest.raises(ConfigError, match="embedding="):
            SequenceClassifier(V, C, embedding=bad)
    with pytest.raises(ConfigError, match="embedding_dropout="):
        SequenceClassifier(V, C, embedding=E, embedding_dropout=1.0)


def test_a_projection_reads_the_embedded_tokens():
    model = SequenceClassifier(
        V, C, hidden=H, layers=1, embedding=E, projection=3, projection_activation="tanh"
    ).eval()
    lstm = torch.nn.LSTM(3, H, batch_first=True)
    model.encoder.load_state_dict(Recurrent.from_torch(lstm).state_dict())
    ids = padded_ids(lengths=torch.tensor([6, 6]))
    with torch.no_grad():
        lin = model.projection[0]
        z = torch.tanh(model.embed[0].weight[ids] @ lin.weight.T + lin.bias)  # (B, T, 3)
        out, _ = lstm(z)
        torch.testing.assert_close(model(ids), head(model, out[:, -1]), **TOL)
