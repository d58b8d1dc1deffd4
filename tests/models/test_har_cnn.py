"""``deep-conv-lstm`` and ``cnn1d``: parameter counts from the papers' layer shapes, logits
against the same networks built from plain torch.nn modules with copied weights (float64),
variable lengths against each sequence alone, other cells, the one-line option and input
checks, and a run of each through the lab on a tiny fake UCI HAR."""

import json

import pytest
import torch
from torch import nn

import tests.data.test_uci_har as fake_har
from nnzoo.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS, check_model, create_model
from nnzoo.models.har_cnn import CNN1D, DeepConvLSTM
from nnzoo.models.summary import count_parameters
from nnzoo.runs.train import train_run
from nnzoo.runs.trained import load_trained

TOL = {"atol": 1e-10, "rtol": 0}

pytestmark = pytest.mark.usefixtures("one_thread")


def build(name, features=9, classes=6, **options):
    return create_model(ModelConfig(name=name, options=options), features, classes)


def signals(B=3, T=128, F=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, F, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- parameter counts, by hand


def test_deep_conv_lstm_counts_at_the_uci_har_defaults():
    # conv="mixed": Conv1d(9 -> 64, k 5), then three Conv1d(64 -> 64, k 5)
    convs = (9 * 64 * 5 + 64) + 3 * (64 * 64 * 5 + 64)  # 2,944 + 3 * 20,544
    # torch's LSTM: 4 gates of (I H + H H + 2 H); I = 64, then 128
    lstm = 4 * (64 * 128 + 128 * 128 + 2 * 128) + 4 * (128 * 128 + 128 * 128 + 2 * 128)
    head = 128 * 6 + 6
    assert convs + lstm + head == 296_774  # the module docstring's number
    assert count_parameters(build("deep-conv-lstm")) == 296_774
    # conv="per-channel": the first kernel is 5 x 1 on one input map; the LSTM reads 64 * 9
    convs = (1 * 64 * 5 + 64) + 3 * (64 * 64 * 5 + 64)
    lstm = 4 * (576 * 128 + 128 * 128 + 2 * 128) + 4 * (128 * 128 + 128 * 128 + 2 * 128)
    assert convs + lstm + head == 556_358
    assert count_parameters(build("deep-conv-lstm", conv="per-channel")) == 556_358


def test_deep_conv_lstm_counts_as_the_papers_opportunity_network():
    """The paper's network for OPPORTUNITY (113 sensor channels, 18 gestures): four 5 x 1
    convolutions of 64 maps, two Lasagne LSTMLayers of 128 (diagonal peepholes on i, f, o and
    one bias per gate), a softmax layer."""
    convs = (1 * 64 * 5 + 64) + 3 * (64 * 64 * 5 + 64)  # 62,016
    lstm1 = 4 * (64 * 113 * 128 + 128 * 128 + 128) + 3 * 128  # 3,769,216
    lstm2 = 4 * (128 * 128 + 128 * 128 + 128) + 3 * 128  # 131,968
    softmax = 128 * 18 + 18
    expected = convs + lstm1 + lstm2 + softmax
    assert expected == 3_965_522
    model = build("deep-conv-lstm", 113, 18, conv="per-channel", cell="peephole-lstm")
    assert count_parameters(model) == expected


def test_cnn1d_counts_at_the_uci_har_defaults():
    # 'same' convolutions keep T; pools of 3 take 128 -> 42 -> 14 -> 4
    convs = (9 * 96 * 9 + 96) + (96 * 192 * 9 + 192) + (192 * 192 * 9 + 192)
    dense = 192 * 4 * 1000 + 1000
    out = 1000 * 6 + 6
    assert convs + dense + out == 1_280_926  # the module docstring's number
    assert count_parameters(build("cnn1d")) == 1_280_926
    per_channel = (1 * 96 * 9 + 96) + (96 * 192 * 9 + 192) + (192 * 192 * 9 + 192)
    per_channel += 192 * 4 * 9 * 1000 + 1000 + out
    assert count_parameters(build("cnn1d", conv="per-channel")) == per_channel == 7_418_014


# ---------------------------------------------------------------- against plain torch.nn


def copy_lstm(model, lstm):
    """Our cells' weights into torch.nn.LSTM, by name: layer l -> _l{l}, backward -> _reverse."""
    with torch.no_grad():
        for index, layer in enumerate(model.encoder.layers):
            cells = [layer.fw, layer.bw] if model.bidirectional else [layer]
            for direction, cell in enumerate(cells):
                suffix = f"_l{index}" + ("_reverse" if direction else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(lstm, name + suffix).copy_(getattr(cell, name))


class ReferenceDeepConvLSTM(nn.Module):
    """The paper's layers in plain torch.nn: valid convolutions + ReLU, nn.LSTM, the last
    step, Linear (dropout as nn.Dropout before each LSTM layer and before the Linear)."""

    def __init__(self, F, C, M, K, L, H, layers, p, per_channel=False, bidirectional=False):
        super().__init__()
        self.per_channel, self.bidirectional = per_channel, bidirectional
        convs, c_in = [], 1 if per_channel else F
        for _ in range(L):
            conv = nn.Conv2d(c_in, M, (K, 1)) if per_channel else nn.Conv1d(c_in, M, K)
            convs += [conv, nn.ReLU()]
            c_in = M
        self.convs = nn.Sequential(*convs)
        width = M * F if per_channel else M
        self.drop_in = nn.Dropout(p)
        self.lstm = nn.LSTM(
            width, H, num_layers=layers, batch_first=True, dropout=p, bidirectional=bidirectional
        )
        self.drop_out = nn.Dropout(p)
        self.head = nn.Linear(H * (2 if bidirectional else 1), C)

    def forward(self, x):
        if self.per_channel:
            a = self.convs(x[:, None])  # (B, M, T', F)
            z = a.permute(0, 2, 1, 3).reshape(a.shape[0], a.shape[2], -1)  # (B, T', M F)
        else:
            z = self.convs(x.transpose(1, 2)).transpose(1, 2)  # (B, T', M)
        o, _ = self.lstm(self.drop_in(z))
        H = self.lstm.hidden_size
        r = o[:, -1] if not self.bidirectional else torch.cat([o[:, -1, :H], o[:, 0, H:]], -1)
        return self.head(self.drop_out(r))


def paired_deep_conv_lstm(F=9, C=6, M=64, K=5, L=4, H=128, layers=2, conv="mixed", bidi=False):
    torch.manual_seed(0)
    model = DeepConvLSTM(
        F, C, conv_layers=L, filters=M, kernel=K, hidden=H, layers=layers,
        bidirectional=bidi, conv=conv,
    ).double()  # fmt: skip
    reference = ReferenceDeepConvLSTM(
        F, C, M, K, L, H, layers, 0.5, per_channel=conv == "per-channel", bidirectional=bidi
    ).double()
    with torch.no_grad():
        for ours, theirs in zip(model.convs, reference.convs, strict=True):
            if isinstance(ours, nn.Conv1d | nn.Conv2d):
                theirs.weight.copy_(ours.weight)
                theirs.bias.copy_(ours.bias)
        reference.head.load_state_dict(model.head.state_dict())
    copy_lstm(model, reference.lstm)
    return model.eval(), reference.eval()


@pytest.mark.parametrize(
    "options",
    [{}, {"conv": "per-channel"}, {"M": 8, "K": 3, "L": 2, "H": 7, "layers": 3, "bidi": True}],
    ids=["defaults", "per-channel", "small-bidirectional"],
)
def test_deep_conv_lstm_equals_the_torch_nn_layers(options):
    model, reference = paired_deep_conv_lstm(**options)
    x = signals()
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), **TOL)
        full = torch.full((3,), 128)
        torch.testing.assert_close(model(x, full), reference(x), **TOL)


def test_deep_conv_lstm_drops_out_where_the_paper_does():
    """In training mode, the same dropout masks as nn.Dropout before the first LSTM layer,
    between the layers and before the Linear: the reference made of one-layer nn.LSTMs."""
    model, reference = paired_deep_conv_lstm(M=6, K=3, L=2, H=5)
    first = nn.LSTM(6, 5, batch_first=True).double()
    second = nn.LSTM(5, 5, batch_first=True).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(first, name + "_l0").copy_(getattr(reference.lstm, name + "_l0"))
            getattr(second, name + "_l0").copy_(getattr(reference.lstm, name + "_l1"))
    x = signals(B=4, T=20)

    def by_hand(x):
        z = reference.convs(x.transpose(1, 2)).transpose(1, 2)  # (B, T', M)
        o, _ = first(nn.functional.dropout(z, 0.5, True))
        o, _ = second(nn.functional.dropout(o, 0.5, True))
        return reference.head(nn.functional.dropout(o[:, -1], 0.5, True))

    model.train()
    torch.manual_seed(5)
    ours = model(x)
    torch.manual_seed(5)
    torch.testing.assert_close(ours, by_hand(x), **TOL)
    assert not torch.allclose(ours, model.eval()(x))  # dropout was active


@pytest.mark.parametrize("bidi", [False, True])
def test_deep_conv_lstm_reads_each_padded_sequence_as_it_reads_it_alone(bidi):
    model, reference = paired_deep_conv_lstm(M=8, K=3, L=2, H=6, bidi=bidi)
    lengths = torch.tensor([30, 5, 17, 12])  # 5 = the shortest: 2 (3 - 1) + 1
    x = signals(B=4, T=30, seed=1)
    mask = torch.arange(30)[None, :] < lengths[:, None]
    x = torch.where(mask[..., None], x, torch.full_like(x, 7.0))  # padding is not zero
    with torch.no_grad():
        expected = torch.cat([reference(x[i : i + 1, :n]) for i, n in enumerate(lengths)])
        torch.testing.assert_close(model(x, lengths), expected, **TOL)


def reference_cnn1d(F=9, C=6, widths=(96, 192, 192), K=9, P=3, dense=1000, T=128, per_channel=0):
    """Ronao & Cho's blocks in plain torch.nn, with the 'same' padding written out (K odd)."""
    layers, c_in, t = [], 1 if per_channel else F, T
    for c in widths:
        if per_channel:
            layers += [nn.Conv2d(c_in, c, (K, 1), padding=(K // 2, 0)), nn.ReLU(),
                       nn.MaxPool2d((P, 1))]  # fmt: skip
        else:
            layers += [nn.Conv1d(c_in, c, K, padding=K // 2), nn.ReLU(), nn.MaxPool1d(P)]
        c_in, t = c, t // P
    flat = c_in * t * (F if per_channel else 1)
    layers += [nn.Flatten(), nn.Linear(flat, dense), nn.ReLU(), nn.Dropout(0.5)]
    return nn.Sequential(*layers, nn.Linear(dense, C))


@pytest.mark.parametrize(
    ("options", "reference_options", "T"),
    [
        ({}, {}, 128),
        ({"conv": "per-channel"}, {"per_channel": 1}, 128),
        (
            {"widths": [4, 5], "kernel": 5, "pool": 2, "dense": 7, "steps": 30},
            {"widths": (4, 5), "K": 5, "P": 2, "dense": 7, "T": 30},
            30,
        ),
    ],
    ids=["defaults", "per-channel", "small"],
)
def test_cnn1d_equals_the_torch_nn_layers(options, reference_options, T):
    torch.manual_seed(0)
    model = CNN1D(9, 6, **options).double().eval()
    reference = reference_cnn1d(**reference_options).double().eval()
    ours, theirs = list(model.state_dict().values()), list(reference.state_dict())
    assert len(ours) == len(theirs)
    reference.load_state_dict(dict(zip(theirs, ours, strict=True)))
    x = signals(T=T)
    maps = x[:, None] if options.get("conv") == "per-channel" else x.transpose(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(maps), **TOL)


# ---------------------------------------------------------------- other cells


@pytest.mark.parametrize(
    ("cell", "cell_options"),
    [("gru", {}), ("larnn", {"window": 3, "num_heads": 2}), ("peephole-lstm", {})],
)
def test_deep_conv_lstm_runs_any_cell(cell, cell_options):
    torch.manual_seed(0)
    model = build(
        "deep-conv-lstm", 4, 3, conv_layers=2, filters=6, kernel=3, hidden=8, layers=2,
        cell=cell, cell_options=cell_options, bidirectional=cell == "gru",
    )  # fmt: skip
    assert model.encoder.cell == cell
    x = torch.randn(5, 12, 4)
    logits = model(x, torch.tensor([12, 9, 5, 7, 12]))
    assert logits.shape == (5, 3) and torch.isfinite(logits).all()
    logits.square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ---------------------------------------------------------------- the one-line checks


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("deep-conv-lstm", {"filters": 0}, "filters=0: expected an integer >= 1"),
        ("deep-conv-lstm", {"kernel": 2.5}, "kernel=2.5: expected an integer >= 1"),
        ("deep-conv-lstm", {"conv_layers": True}, "conv_layers=True: expected an integer >= 1"),
        ("deep-conv-lstm", {"dropout": 1.0}, "dropout=1.0: expected a probability in [0, 1)"),
        ("deep-conv-lstm", {"conv": "2d"}, "conv='2d': expected one of 'mixed', 'per-channel'"),
        ("deep-conv-lstm", {"bidirectional": "yes"}, "bidirectional='yes': expected true or false"),
        (
            "deep-conv-lstm",
            {"cell_options": [3]},
            "cell_options=[3]: expected a table of cell options",
        ),
        ("cnn1d", {"widths": []}, "widths=[]: expected at least one integer >= 1"),
        ("cnn1d", {"widths": [96, 0]}, "widths=[96, 0]: expected integers >= 1, got 0"),
        ("cnn1d", {"pool": 0}, "pool=0: expected an integer >= 1"),
        ("cnn1d", {"dense": -1}, "dense=-1: expected an integer >= 1"),
        ("cnn1d", {"dropout": -0.1}, "dropout=-0.1: expected a probability in [0, 1)"),
        (
            "cnn1d",
            {"steps": 20},
            "cnn1d: steps=20, too short for the 3 max-pools of 3 of widths=[96, 192, 192]; "
            "use sequences of at least 27 steps, or fewer widths or a smaller pool",
        ),
    ],
)
def test_a_bad_option_is_one_line(name, options, message):
    with pytest.raises(ConfigError) as info:
        MODELS.create(name, 9, 6, **options)
    assert str(info.value) == message
    with pytest.raises(ConfigError) as info:  # before any data: the config's own check
        check_model(ModelConfig(name, options))
    assert "\n" not in str(info.value)
    if "dropout" not in options:  # model.dropout is also checked by ModelConfig itself
        assert str(info.value) == message


def test_an_unknown_option_lists_the_models_options():
    with pytest.raises(ConfigError) as info:
        build("cnn1d", filters=64)
    assert str(info.value) == (
        "model.options.filters=64: not an option of model 'cnn1d' (its options: widths, kernel, "
        "pool, dense, dropout, steps, conv); remove it, or use one of those"
    )


def one_line(model, *args):
    with pytest.raises(ConfigError) as info:
        model(*args)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_too_short_or_wrong_inputs_are_one_line():
    deep = DeepConvLSTM(9, 6)  # 4 convolutions of 5: at least 17 steps
    assert one_line(deep, torch.randn(2, 16, 9)) == (
        "deep-conv-lstm: the input has 16 steps, too short for 4 valid convolutions of kernel 5 "
        "(each takes 4 off); use sequences of at least 17 steps, or fewer conv_layers or a "
        "smaller kernel"
    )
    assert one_line(deep, torch.randn(2, 40, 9), torch.tensor([40, 16])).startswith(
        "deep-conv-lstm: the shortest sequence has 16 steps, too short for 4 valid convolutions"
    )
    assert deep(torch.randn(2, 17, 9), torch.tensor([17, 17])).shape == (2, 6)  # T' = 1
    assert one_line(deep, torch.randn(2, 40, 3)).startswith(
        "x: expected input_size=9 features in the last dimension, got 3"
    )
    cnn = CNN1D(9, 6)
    assert one_line(cnn, torch.randn(2, 26, 9)) == (
        "cnn1d: the input has 26 steps, too short for the 3 max-pools of 3 of widths=[96, 192, "
        "192]; use sequences of at least 27 steps, or fewer widths or a smaller pool"
    )
    assert one_line(cnn, torch.randn(2, 100, 9)) == (
        "cnn1d: built for T=128 steps (model.options.steps), got T=100; set "
        "model.options.steps = 100"
    )
    assert one_line(cnn, torch.randn(2, 128, 9), torch.tensor([128, 90])) == (
        "cnn1d: needs full-length sequences, got lengths down to 90 of T=128; pad or crop every "
        "sequence to the same length"
    )
    assert cnn(torch.randn(2, 128, 9), torch.tensor([128, 128])).shape == (2, 6)
    assert CNN1D(9, 6, steps=27)(torch.randn(1, 27, 9)).shape == (1, 6)  # T_3 = 1


# ---------------------------------------------------------------- through the lab


@pytest.fixture(scope="module")
def har_folder(tmp_path_factory):
    return fake_har.make_har(tmp_path_factory.mktemp("data") / "uci-har").folder


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("deep-conv-lstm", {"filters": 8, "hidden": 8, "conv_layers": 2}),
        ("cnn1d", {"widths": [8, 8], "dense": 16}),
    ],
)
def test_trains_on_uci_har_through_the_lab(tmp_path, har_folder, name, options):
    config = RunConfig(
        data=DataConfig(name="uci-har", path=str(har_folder), options={"val_groups": 1}),
        model=ModelConfig(name=name, options=options),
        train=TrainConfig(epochs=2, batch_size=4, seed=1),
    )
    results = train_run(config, tmp_path / "run", progress=False, write_report=False)
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert 0 <= written["test"]["accuracy"] <= 1
    assert written["test"]["accuracy"] == results["test"]["accuracy"]
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    trained, _, _ = load_trained(tmp_path / "run")
    assert type(trained) is (DeepConvLSTM if name == "deep-conv-lstm" else CNN1D)
    assert trained.input_size == 9 and trained.num_classes == 6
