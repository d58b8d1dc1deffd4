"""``simple-cnn``: the parameter count of its docstring from the layer formula and torchinfo,
the output against a hand-built torch.nn.Sequential (the blog's Keras layers) with copied
weights, and the input and option checks."""

import pytest
import torch
from torch import nn

from nnzoo.config import ModelConfig
from nnzoo.errors import ConfigError
from nnzoo.models import check_model, create_model
from nnzoo.models.image import InputShapeError
from nnzoo.models.summary import count_parameters

torchinfo = pytest.importorskip("torchinfo")


def build(shape=(3, 128, 128), num_classes=1, **options):
    return create_model(ModelConfig(name="simple-cnn", options=options), 0, num_classes, shape)


def formula(shape, widths=(32, 32, 64), dense=64, classes=1):
    """Valid 3x3 convolutions (9 c_in c_out + c_out), each followed by a 2x2 pool, then the
    dense layer and the output."""
    C, H, W = shape
    total, c_in = 0, C
    for c in widths:
        total += 9 * c_in * c + c
        H, W, c_in = (H - 2) // 2, (W - 2) // 2, c
    return total + (c_in * H * W * dense + dense) + (dense * classes + classes)


def test_the_docstring_count_for_128x128_rgb_images():
    model = build()
    assert formula((3, 128, 128)) == 831_585  # the module docstring's number
    assert count_parameters(model) == 831_585
    stats = torchinfo.summary(model, input_size=(1, 3, 128, 128), verbose=0, device="cpu")
    assert stats.total_params == stats.trainable_params == 831_585
    assert count_parameters(build(num_classes=2)) == formula((3, 128, 128), classes=2) == 831_650


@pytest.mark.parametrize(
    "shape, options",
    [((3, 150, 150), {}), ((1, 40, 56), {"widths": [8, 16], "dense": 10}), ((22, 22), {})],
)
def test_counts_match_the_formula_and_torchinfo(shape, options):
    model = build(shape, 3, **options)
    shape3 = (1, *shape) if len(shape) == 2 else shape
    expected = formula(shape3, **options, classes=3)
    assert count_parameters(model) == expected
    assert torchinfo.summary(model, (1, *shape3), verbose=0, device="cpu").total_params == expected


def keras_blog_reference():
    """The blog post's model, layer for layer, for 3 x 64 x 64 images (valid convolutions)."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 62 -> 31
        nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),  # 29 -> 14
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # 12 -> 6
        nn.Flatten(), nn.Linear(64 * 6 * 6, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1),
    )  # fmt: skip


def test_output_matches_the_blog_layers_with_copied_weights():
    model = build((3, 64, 64)).eval()
    reference = keras_blog_reference().eval()
    ours, theirs = list(model.state_dict().values()), list(reference.state_dict())
    assert len(ours) == len(theirs)
    reference.load_state_dict(dict(zip(theirs, ours, strict=True)))
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-6, rtol=0)
    model.train()  # dropout is active in training mode, only before the last Linear
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(1)
    reference.train()
    torch.testing.assert_close(a, reference(x), atol=1e-6, rtol=0)


def test_an_input_too_small_for_the_pools_is_one_line():
    build((3, 22, 22))  # 20 -> 10 -> 8 -> 4 -> 2 -> 1
    with pytest.raises(InputShapeError) as e:
        build((3, 21, 40))
    message = str(e.value)
    assert "21x40 is too small" in message and "at least 22x22" in message
    assert len(message.splitlines()) == 1
    with pytest.raises(InputShapeError, match="at least 10x10"):
        build((3, 9, 9), widths=[4, 4])


@pytest.mark.parametrize(
    "options, named",
    [
        ({"widths": []}, r"widths=\[\]"),
        ({"widths": [32, 0]}, "widths="),
        ({"dense": 0}, "dense="),
        ({"dense": True}, "dense="),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"depth": 3}, "model.options.depth=3: not an option of model 'simple-cnn'"),
    ],
)
def test_bad_options_name_the_option(options, named):
    with pytest.raises(ConfigError, match=named):
        build((3, 64, 64), **options)


def test_checked_without_data_and_input_checked_at_run_time():
    check_model(ModelConfig(name="simple-cnn", options={"widths": [16, 16, 32]}))  # 28x28 fits
    model = build((3, 32, 32))
    with pytest.raises(ConfigError, match=r"Expected input of shape \(B, 3, 32, 32\)"):
        model(torch.rand(2, 3, 30, 32))
