import pytest
import torch
from torch import nn

import nnzoo
from nnzoo.errors import ConfigError
from nnzoo.models.summary import count_parameters, parameter_table, summary


def mnist_mlp():
    """The Keras MNIST MLP: its published summary reads 401,920 + 262,656 + 5,130 = 669,706."""
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 8)])


class TiedLanguageModel(nn.Module):
    """An embedding and an output layer that share one weight matrix (tied weights)."""

    def __init__(self, vocab=100, width=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab, width)
        self.encoder = Encoder() if width == 8 else nn.Identity()
        self.decoder = nn.Linear(width, vocab)
        self.decoder.weight = self.embedding.weight
        self.scale = nn.Parameter(torch.ones(()))


def torch_count(model, trainable_only=False):
    """The reference: model.parameters() yields each tensor once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def test_lstm_matches_the_formula():
    lstm = nn.LSTM(9, 32)
    assert count_parameters(lstm) == 4 * 32 * (9 + 32) + 2 * 4 * 32 == 5504
    assert parameter_table(lstm) == [
        {
            "name": "",
            "type": "LSTM",
            "shapes": {
                "weight_ih_l0": (128, 9),
                "weight_hh_l0": (128, 32),
                "bias_ih_l0": (128,),
                "bias_hh_l0": (128,),
            },
            "params": 5504,
            "trainable": 5504,
            "tied": {},
        }
    ]


def test_mnist_mlp_matches_the_published_summary():
    model = mnist_mlp()
    rows = parameter_table(model)
    assert [(r["name"], r["type"], r["params"]) for r in rows] == [
        ("0", "Linear", 401_920),
        ("2", "Linear", 262_656),
        ("4", "Linear", 5_130),
    ]
    assert count_parameters(model) == count_parameters(model, trainable_only=True) == 669_706


def test_frozen_layers_count_as_non_trainable():
    model = mnist_mlp()
    model[0].requires_grad_(False)
    rows = parameter_table(model)
    assert [r["trainable"] for r in rows] == [0, 262_656, 5_130]
    assert count_parameters(model) == 669_706
    assert count_parameters(model, trainable_only=True) == 669_706 - 401_920
    assert count_parameters(model, trainable_only=True) == torch_count(model, trainable_only=True)
    text = summary(model)
    assert "Total params: 669,706\nTrainable params: 267,786\nNon-trainable params: 401,920" in text


def test_shared_parameters_count_once():
    model = TiedLanguageModel()
    total = count_parameters(model)
    assert total == 100 * 16 + 100 + 1 == torch_count(model)
    rows = {r["name"]: r for r in parameter_table(model)}
    assert rows["decoder"]["shapes"] == {"bias": (100,)}
    assert rows["decoder"]["tied"] == {"weight": "embedding.weight"}
    assert rows[""]["shapes"] == {"scale": ()}  # the model's own parameter
    assert sum(r["params"] for r in rows.values()) == total


def test_a_module_used_twice_counts_once():
    layer = nn.Linear(5, 5)
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert count_parameters(model) == 30 == torch_count(model)
    assert [r["name"] for r in parameter_table(model)] == ["0"]


def test_buffers_are_not_parameters():
    bn = nn.BatchNorm1d(8)
    assert count_parameters(bn) == 16  # weight and bias; running mean / var are buffers


@pytest.mark.parametrize("bidirectional", [False, True])
def test_nnzoo_recurrent_counts_like_torch_lstm(bidirectional):
    ours = nnzoo.Recurrent("lstm", 9, 32, num_layers=2, bidirectional=bidirectional)
    reference = nn.LSTM(9, 32, num_layers=2, bidirectional=bidirectional)
    directions = 2 if bidirectional else 1
    by_formula = directions * (5504 + 4 * 32 * (directions * 32 + 32) + 2 * 4 * 32)
    assert count_parameters(ours) == count_parameters(reference) == by_formula
    assert sum(r["params"] for r in parameter_table(ours)) == by_formula


def test_rows_sum_to_the_totals_at_every_depth():
    model = nn.Module()
    model.encoder = Encoder()
    model.head = nn.Linear(8, 3)
    model.encoder.layers[1].requires_grad_(False)
    total, trainable = count_parameters(model), count_parameters(model, trainable_only=True)
    assert (total, trainable) == (torch_count(model), torch_count(model, trainable_only=True))
    names = {
        None: ["encoder.layers.0", "encoder.layers.1", "encoder.layers.2", "head"],
        3: ["encoder.layers.0", "encoder.layers.1", "encoder.layers.2", "head"],
        2: ["encoder.layers", "head"],
        1: ["encoder", "head"],
        0: [""],
    }
    for depth, expected in names.items():
        rows = parameter_table(model, depth=depth)
        assert [r["name"] for r in rows] == expected, depth
        assert sum(r["params"] for r in rows) == total
        assert sum(r["trainable"] for r in rows) == trainable
    encoder = parameter_table(model, depth=1)[0]
    assert encoder["type"] == "Encoder"
    assert list(encoder["shapes"]) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert encoder["trainable"] == encoder["params"] - 16


def test_summary_text():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    model[2].requires_grad_(False)
    assert summary(model) == (
        "Sequential\n"
        "\n"
        "| layer | type   | parameters              | params | trainable |\n"
        "|-------|--------|-------------------------|-------:|----------:|\n"
        "| 0     | Linear | weight [2, 3], bias [2] |      8 |         8 |\n"
        "| 2     | Linear | weight [1, 2], bias [1] |      3 |         0 |\n"
        "\n"
        "Total params: 11\n"
        "Trainable params: 8\n"
        "Non-trainable params: 3"
    )


def test_summary_names_the_model_row_and_tied_weights():
    text = summary(TiedLanguageModel())
    assert "| (model)   | TiedLanguageModel | scale []" in text
    assert "bias [100], weight = embedding.weight" in text


def test_errors():
    with pytest.raises(ConfigError, match="depth: expected None or an integer >= 0, got -1"):
        parameter_table(nn.Linear(2, 2), depth=-1)
    with pytest.raises(ConfigError, match="weight: lazy parameter without a shape yet"):
        count_parameters(nn.LazyLinear(4))
