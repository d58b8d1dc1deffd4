"""Image models: parameter counts from the layer formulas and torchinfo, outputs against
hand-built torch.nn.Sequential references with copied weights, option checks, configs."""

import pytest
import torch
from torch import nn

from nnzoo.config import ModelConfig, config_from_toml
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS, check_model, create_model, takes_input_shape
from nnzoo.models.summary import count_parameters, parameter_table

torchinfo = pytest.importorskip("torchinfo")

# the image models trained from scratch on 28x28 images; the NumPy ones (test_scratch.py) and the
# pretrained backbone, which needs 32x32 at least (test_transfer.py), have their own tests
OWN_TESTS = ("scratch-logistic", "scratch-mlp", "efficientnet-lite0")
IMAGE_MODELS = [
    name for name in MODELS.names() if takes_input_shape(name) and name not in OWN_TESTS
]


def linear(n_in, n_out):
    return n_in * n_out + n_out


def conv3(c_in, c_out, batch_norm=True):
    return 9 * c_in * c_out + c_out + (2 * c_out if batch_norm else 0)


FORMULAS = {
    "mlp": linear(784, 512) + linear(512, 512) + linear(512, 10),
    "wider": linear(784, 1024) + linear(1024, 728) + linear(728, 10),
    "deeper": conv3(1, 32) + conv3(32, 64) + linear(64 * 6 * 6, 600) + linear(600, 120)
    + linear(120, 10),
}  # fmt: skip


def build(name, input_shape=(28, 28), num_classes=10, **options):
    return create_model(ModelConfig(name=name, options=options), 28, num_classes, input_shape)


def vgg_formula(blocks, width, batch_norm, head, global_pool, shape=(1, 28, 28), classes=10):
    """Parameters of `VGG`, counted from its docstring's description."""
    C, H, W = shape
    total, c_in = 0, C
    for k, n in enumerate(blocks):
        for _ in range(n):
            total += conv3(c_in, width * 2**k, batch_norm)
            c_in = width * 2**k
        H, W = H // 2, W // 2
    d = c_in if global_pool else c_in * H * W
    if head:
        total += linear(d, head)
        d = head
    return total + linear(d, classes)


def torchinfo_summary(model, input_size=(1, 1, 28, 28)):
    return torchinfo.summary(model, input_size=input_size, verbose=0, device="cpu")


def test_the_image_models_are_registered():
    assert set(IMAGE_MODELS) == {"mlp", "wider", "deeper", "vgg", "linear-head", "simple-cnn"}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_parameter_totals_match_the_formulas_and_torchinfo(name):
    assert FORMULAS == {"mlp": 669_706, "wider": 1_557_330, "deeper": 1_475_338}
    model = build(name)
    stats = torchinfo_summary(model)
    assert count_parameters(model) == FORMULAS[name]
    assert stats.total_params == stats.trainable_params == FORMULAS[name]
    assert count_parameters(model, trainable_only=True) == FORMULAS[name]


@pytest.mark.parametrize(
    "options, shape",
    [
        ({"blocks": [1, 2], "width": 8, "head": 64}, (1, 28, 28)),
        ({"blocks": [2, 1, 1], "width": 4, "head": 0, "batch_norm": False}, (28, 28)),
        ({"blocks": [1, 1], "width": 8, "head": 16, "global_pool": True}, (3, 32, 32)),
    ],
)
def test_vgg_parameters_match_the_formula_and_torchinfo(options, shape):
    model = build("vgg", shape, **options)
    defaults = {"batch_norm": True, "global_pool": False}
    shape3 = (1, *shape) if len(shape) == 2 else shape
    expected = vgg_formula(**{**defaults, **options}, shape=shape3)
    assert count_parameters(model) == expected
    assert torchinfo_summary(model, (1, *shape3)).total_params == expected


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_per_layer_rows_match_torchinfo(name):
    model = build(name)
    stats = torchinfo_summary(model)
    top = {row["name"]: row["params"] for row in parameter_table(model, depth=1)}
    theirs = {layer.var_name: layer.num_params for layer in stats.summary_list if layer.depth == 1}
    assert top == {key: n for key, n in theirs.items() if n}
    # every module that owns parameters, by its dotted name
    names = {id(module): key for key, module in model.named_modules()}
    leaves = {
        names[id(layer.module)]: layer.num_params
        for layer in stats.summary_list
        if layer.num_params and not list(layer.module.children())
    }
    assert {row["name"]: row["params"] for row in parameter_table(model)} == leaves


def copy_into(reference, model):
    """Load ``model``'s state (weights and batch-norm statistics) into ``reference``, in order."""
    ours = list(model.state_dict().values())
    theirs = list(reference.state_dict())
    assert len(ours) == len(theirs)
    reference.load_state_dict(dict(zip(theirs, ours, strict=True)))


REFERENCES = {
    "mlp": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    ),
    "wider": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 728), nn.ReLU(),
        nn.Linear(728, 10),
    ),
    "deeper": lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2304, 600), nn.Dropout(0.25), nn.Linear(600, 120),
        nn.Linear(120, 10),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_outputs_match_a_hand_built_sequential(name):
    model = build(name)
    model.train()
    model(torch.rand(16, 28, 28))  # batch-norm running statistics away from 0 and 1
    model.eval()
    reference = REFERENCES[name]().eval()
    copy_into(reference, model)
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_rows_and_one_channel_images_give_the_same_output(name):
    model = build(name).eval()
    x = torch.rand(3, 28, 28)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (3, 10) and torch.isfinite(out).all()
        assert torch.equal(out, model(x.unsqueeze(1)))


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_parameter_gets_a_gradient(name):
    model = build(name, num_classes=3)
    model(torch.rand(4, 28, 28)).sum().backward()
    for key, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, key


def test_the_input_is_checked_against_the_shape_the_model_was_built_for():
    model = build("mlp")
    with pytest.raises(ConfigError, match=r"Expected input of shape \(B, 1, 28, 28\)"):
        model(torch.rand(2, 1, 27, 28))
    with pytest.raises(ConfigError, match="images have no lengths"):
        model(torch.rand(2, 28, 28), torch.full((2,), 28))
    colour = build("vgg", (3, 16, 16), blocks=[1])
    assert colour(torch.rand(2, 3, 16, 16)).shape == (2, 10)
    with pytest.raises(ConfigError, match=r"\(B, 3, 16, 16\), got \(2, 16, 16\)"):
        colour(torch.rand(2, 16, 16))


@pytest.mark.parametrize(
    "name, options, shape, named",
    [
        ("mlp", {"widths": []}, (28, 28), r"widths=\[\]"),
        ("mlp", {"widths": [512, 0]}, (28, 28), "widths="),
        ("mlp", {"widths": 512}, (28, 28), "widths=512"),
        ("mlp", {"dropout": 1.0}, (28, 28), "dropout=1.0"),
        ("mlp", {"dropout": -0.1}, (28, 28), "dropout=-0.1"),
        ("mlp", {"activation": "swish"}, (28, 28), "activation='swish'"),
        ("wider", {"widths": []}, (28, 28), "widths"),
        ("deeper", {"channels": [32]}, (28, 28), "channels"),
        ("deeper", {}, (7, 7), "too small for model 'deeper'"),
        ("vgg", {"blocks": [2, 2, 2, 2, 2]}, (28, 28), "too small for 5 blocks"),
        ("vgg", {"blocks": []}, (28, 28), "blocks"),
        ("vgg", {"width": 0}, (28, 28), "width"),
        ("vgg", {"head": -1}, (28, 28), "head=-1"),
        ("vgg", {"dropout": 1}, (28, 28), "dropout=1"),
        ("vgg", {"global_pool": 1}, (28, 28), "global_pool=1"),
        ("mlp", {}, (1, 2, 28, 28), "input_shape"),
        ("mlp", {}, None, "input_shape=None"),
    ],
)
def test_bad_options_name_the_option(name, options, shape, named):
    with pytest.raises(ConfigError, match=named):
        build(name, shape, **options)


def test_fields_and_options_a_model_does_not_take_are_rejected_by_name():
    with pytest.raises(ConfigError, match=r"model.cell='gru': not an option of model 'mlp' \("):
        create_model(ModelConfig(name="mlp", cell="gru"), 28, 10, (28, 28))
    with pytest.raises(ConfigError, match="model.options.depth=3: not an option of model 'vgg'"):
        check_model(ModelConfig(name="vgg", options={"depth": 3}))
    with pytest.raises(ConfigError, match="model.options.depth=3: not an option of model 'mlp'"):
        check_model(ModelConfig(name="mlp", dropout=0.2, options={"depth": 3}))
    with pytest.raises(ConfigError, match="widths"):
        check_model(ModelConfig(name="mlp", options={"widths": []}))  # values, not just names
    check_model(ModelConfig(name="vgg", options={"blocks": [1] * 6}))  # fine for larger images


def test_a_model_from_a_toml_config():
    config = config_from_toml(
        """
        [model]
        name = "vgg"
        dropout = 0.1
        [model.options]
        blocks = [1, 2]
        width = 8
        head = 32
        """
    )
    model = create_model(config.model, 28, 10, (28, 28))
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 16]
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.1]
    assert count_parameters(model) == vgg_formula([1, 2], 8, True, 32, False)
    # a model's own default holds unless the config sets it; options can set any value
    deeper = create_model(ModelConfig(name="deeper"), 28, 10, (28, 28))
    assert [m.p for m in deeper.modules() if isinstance(m, nn.Dropout)] == [0.25]
    none = create_model(ModelConfig(name="deeper", options={"dropout": 0.0}), 28, 10, (28, 28))
    assert not any(isinstance(m, nn.Dropout) for m in none.modules())
