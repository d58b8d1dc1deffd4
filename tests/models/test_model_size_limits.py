"""A model's parameters are counted on the meta device, and too many are refused, before any
memory is taken. The references: the real model's count, and polynomials fitted to it."""

import re
import time

import pytest
import torch

from nnzoo.cells.registry import CELLS
from nnzoo.config import ModelConfig
from nnzoo.errors import ConfigError
from nnzoo.models import (
    MAX_PARAMETERS,
    MODELS,
    check_model,
    check_size,
    create_model,
    example_input_shape,
    list_models,
    takes_input_shape,
)
from nnzoo.models.summary import count_parameters

RECURRENT = ("sequence-classifier", "seq2seq", "generator")
CASES = [(name, cell) for name in RECURRENT for cell in CELLS.names()] + [
    (name, None) for name in list_models() if name not in RECURRENT
]


def config_of(name, cell, **options):
    return ModelConfig(name=name, options={**({"cell": cell} if cell else {}), **options})


def build_real(config, features=5, classes=4):
    """The model built the plain way, without the size check."""
    first = example_input_shape(config.name) if takes_input_shape(config.name) else features
    return MODELS.create(config.name, first, classes, **config.options)


@pytest.mark.parametrize(("name", "cell"), CASES)
def test_the_meta_count_equals_the_real_models_and_the_weights_are_unchanged(name, cell):
    config = config_of(name, cell)
    torch.manual_seed(3)
    real = build_real(config)
    first = example_input_shape(name) if takes_input_shape(name) else 5
    counted = check_size(config, lambda: MODELS.create(name, first, 4, **config.options), "")
    assert counted == count_parameters(real)
    torch.manual_seed(3)
    checked = create_model(config, 5, 4, example_input_shape(name))  # meta build, then real
    assert all(p.device.type == "cpu" for p in checked.parameters())
    state, expected = checked.state_dict(), real.state_dict()
    assert state.keys() == expected.keys()
    for key in expected:  # the meta build drew nothing from torch's generator
        assert torch.equal(state[key], expected[key]), key


def quadratic_through(points):
    """The exact integer quadratic a h^2 + b h + c through three (h, count) points."""
    (h0, y0), (h1, y1), (h2, y2) = points
    d1, d2 = (y1 - y0) // (h1 - h0), (y2 - y1) // (h2 - h1)
    a = (d2 - d1) // (h2 - h0)
    b = d1 - a * (h0 + h1)
    c = y0 - a * h0 * h0 - b * h0
    return lambda h: a * h * h + b * h + c


def count_in(text):
    return int(re.search(r"([\d,]+) parameters", text).group(1).replace(",", ""))


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_hidden_ten_million_is_refused_with_the_count_the_bound_and_the_option(cell):
    config = ModelConfig(cell=cell, hidden=10_000_000)
    # the count at H = 10^7 from real models at H = 1, 2, 3 (a quadratic in H)
    reference = quadratic_through(
        [
            (h, count_parameters(build_real(ModelConfig(cell=cell, hidden=h), 1, 2)))
            for h in (1, 2, 3)
        ]
    )
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        check_model(config)
    assert time.perf_counter() - started < 5  # nothing of 1.6 PB was asked for
    text = str(info.value)
    assert count_in(text) == reference(10_000_000)
    assert text.startswith("model 'sequence-classifier': ")
    assert f"above the limit of {MAX_PARAMETERS:,}" in text
    assert "lower model.hidden (now 10000000) or model.layers (now 2)" in text
    assert "\n" not in text


def test_create_model_counts_for_the_datas_own_sizes():
    config = ModelConfig(hidden=9000, layers=2)  # below the bound on 1 feature, above on 20000
    check_model(config)
    with pytest.raises(ConfigError, match=r"parameters for 20000 input features and 6 classes"):
        create_model(config, 20000, 6)


def test_an_image_model_names_its_list_options():
    config = ModelConfig(name="mlp", options={"widths": [100_000, 100_000]})
    with pytest.raises(ConfigError) as info:
        create_model(config, 0, 10, (1, 28, 28))
    text = str(info.value)
    expected = 784 * 100_000 + 100_000 + 100_000 * 100_000 + 100_000 + 100_000 * 10 + 10
    assert count_in(text) == expected
    assert "for input shape (1, 28, 28) and 10 classes" in text
    assert text.endswith("lower model.options.widths (now [100000, 100000])")


def test_a_weight_too_large_for_torch_is_refused_with_the_options():
    config = ModelConfig(name="mlp", options={"widths": [2**62, 2**62]})
    with pytest.raises(ConfigError) as info:
        check_model(config)
    text = str(info.value)
    assert "a weight would have more elements than torch can hold" in text
    assert "lower model.options.widths" in text


def test_just_below_the_bound_builds(monkeypatch):
    config = ModelConfig(hidden=4)
    n = count_parameters(build_real(config, 3, 2))
    monkeypatch.setattr("nnzoo.models.MAX_PARAMETERS", n)
    assert count_parameters(create_model(config, 3, 2)) == n
    monkeypatch.setattr("nnzoo.models.MAX_PARAMETERS", n - 1)
    with pytest.raises(ConfigError, match=f"{n} parameters for 3 input features and 2 classes"):
        create_model(config, 3, 2)
