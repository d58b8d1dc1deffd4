"""Augmentation against torch's flips, rot90, interpolate and Pillow's rotate; seeds; config."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from nnzoo.data.augment import (
    ColorShift,
    Compose,
    HorizontalFlip,
    RandomColorShift,
    RandomResizedCrop,
    Rotation,
    augmentation,
    crop_resize,
)
from nnzoo.errors import ConfigError


def batch(B=6, H=12, W=12, seed=0):
    return torch.rand(B, 3, H, W, generator=torch.Generator().manual_seed(seed))


def test_hflip_is_torch_flip_with_probability_p():
    x = batch(64)
    assert torch.equal(HorizontalFlip(1.0)(x), torch.flip(x, dims=[-1]))
    assert torch.equal(HorizontalFlip(0.0)(x), x)
    out = HorizontalFlip(0.5)(x, torch.Generator().manual_seed(3))
    flipped = [torch.equal(o, torch.flip(i, dims=[-1])) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 16 < sum(flipped) < 48  # each image its own draw


@pytest.mark.parametrize("k, degrees", [(1, 90), (-1, -90), (2, 180)])
def test_rotation_by_right_angles_is_rot90(k, degrees):
    x = batch(3, 9, 9)
    out = Rotation((degrees, degrees))(x)
    torch.testing.assert_close(out, torch.rot90(x, k, dims=(-2, -1)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("degrees", [30.0, -20.0, 7.0])
def test_rotation_matches_pillow_rotate_inside_the_image(degrees):
    yy, xx = np.mgrid[0:32, 0:32]
    rgb = np.stack([(xx * 7) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], -1).astype(np.uint8)
    reference = Image.fromarray(rgb).rotate(degrees, resample=Image.Resampling.BILINEAR)
    ref = torch.from_numpy(np.asarray(reference).transpose(2, 0, 1).copy()).float() / 255
    x = torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float()[None] / 255
    out = Rotation((degrees, degrees))(x)[0]
    # Pillow rounds to uint8; the corners differ in how each fills outside the image
    torch.testing.assert_close(out[:, 6:-6, 6:-6], ref[:, 6:-6, 6:-6], atol=1.5 / 255, rtol=0)


def test_rotation_angles_are_drawn_within_the_range():
    x = torch.zeros(200, 3, 8, 8)
    x[:, :, 3:5, :] = 1.0  # a horizontal bar: its rotation shows in the corner columns
    out = Rotation(10)(x, torch.Generator().manual_seed(0))
    assert not torch.equal(out, x)
    assert torch.equal(Rotation(10, p=0.0)(x), x)
    assert float(out[:, :, 0, :].max()) == 0.0  # 10 degrees never reaches the top row


def test_crop_resize_is_interpolate_of_the_box():
    x = batch(4, 10, 14)
    boxes = torch.tensor([[0, 0, 14, 10], [3, 2, 8, 6], [5, 1, 9, 9], [13, 9, 1, 1]])
    out = crop_resize(x, boxes)
    for i, (left, top, w, h) in enumerate(boxes.tolist()):
        cut = x[i : i + 1, :, top : top + h, left : left + w]
        ref = F.interpolate(cut, size=(10, 14), mode="bilinear", align_corners=False)
        torch.testing.assert_close(out[i], ref[0], atol=1e-6, rtol=0)


def test_random_resized_crop_boxes_keep_scale_and_ratio():
    crop = RandomResizedCrop(scale=(0.5, 0.9), ratio=(3 / 4, 4 / 3))
    boxes = crop.boxes(500, 40, 60, torch.Generator().manual_seed(1))
    left, top, w, h = boxes.T.double()
    assert bool((left >= 0).all() and (top >= 0).all())
    assert bool((left + w <= 60).all() and (top + h <= 40).all())
    area = w * h / (40 * 60)
    assert float(area.min()) > 0.45 and float(area.max()) < 0.95  # rounding to whole pixels
    assert float((w / h).min()) > 0.7 and float((w / h).max()) < 1.4
    x = batch(5, 16, 16)
    assert RandomResizedCrop()(x).shape == x.shape
    torch.testing.assert_close(RandomResizedCrop((1.0, 1.0), (1.0, 1.0))(x), x, atol=1e-6, rtol=0)


def test_color_shift_adds_exactly_the_shift_and_clips():
    x = torch.tensor([0.0, 0.05, 0.5, 0.95, 1.0]).view(1, 1, 1, 5).expand(2, 3, 4, 5).clone()
    out = ColorShift((20, -19, 20))(x)
    shift = torch.tensor([20.0, -19.0, 20.0]).view(1, 3, 1, 1) / 255
    assert torch.equal(out, (x + shift).clamp(0, 1))
    assert float(out[0, 1, 0, 0]) == 0.0 and float(out[0, 0, 0, 4]) == 1.0
    assert torch.equal(ColorShift((20, -19, 20), p=0.0)(x), x)


def test_random_color_shift_is_one_shift_per_image_and_channel():
    x = torch.full((50, 3, 4, 4), 0.5)
    out = RandomColorShift(20)(x, torch.Generator().manual_seed(0))
    delta = (out - x) * 255  # (B, 3, 4, 4)
    per_channel = delta[:, :, :1, :1]
    assert torch.allclose(delta, per_channel.expand_as(delta), atol=1e-4)
    assert float(delta.abs().max()) <= 20 + 1e-4 and float(delta.abs().max()) > 15
    assert len(torch.unique(per_channel.round(decimals=3))) > 100
    assert torch.equal(RandomColorShift(20, p=0.0)(x), x)


def all_four():
    return Compose([RandomResizedCrop(), HorizontalFlip(0.5), Rotation(10), RandomColorShift(20)])


def test_same_seed_same_batch_from_a_generator_or_the_global_one():
    x = batch(8)
    a = all_four()(x, torch.Generator().manual_seed(5))
    b = all_four()(x, torch.Generator().manual_seed(5))
    c = all_four()(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(11)
    d = all_four()(x)
    torch.manual_seed(11)
    assert torch.equal(all_four()(x), d)


def test_p_zero_is_identity_for_every_transform():
    x = batch(4)
    for t in (
        HorizontalFlip(0.0),
        RandomResizedCrop(p=0.0),
        ColorShift(p=0.0),
        RandomColorShift(p=0.0),
        Rotation(20, p=0.0),
    ):
        assert torch.equal(t(x), x), t


def test_the_config_form_builds_the_transforms_in_a_fixed_order():
    aug = augmentation({"color": 20, "rotate": 10, "hflip": 0.5, "crop": [0.8, 1.0]})
    kinds = [type(t) for t in aug.transforms]
    assert kinds == [RandomResizedCrop, HorizontalFlip, Rotation, RandomColorShift]
    assert aug.transforms[0].scale == (0.8, 1.0) and aug.transforms[2].degrees == (-10.0, 10.0)
    assert str(aug) == "crop scale [0.8, 1] ratio [0.75, 1.33], hflip 0.5, rotate ±10°, color ±20"
    fixed = augmentation({"color": {"shift": [20, -19, 20], "p": 0.5}}).transforms[0]
    assert isinstance(fixed, ColorShift) and fixed.shift == (20, -19, 20) and fixed.p == 0.5
    assert isinstance(augmentation({"color": [20, -19, 20]}).transforms[0], ColorShift)
    assert isinstance(augmentation({"color": {"max": 5}}).transforms[0], RandomColorShift)
    crop = augmentation({"crop": {"scale": [0.5, 1], "ratio": [1, 1]}}).transforms[0]
    assert crop.ratio == (1.0, 1.0)
    assert augmentation(None) is None and augmentation({}) is None


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"flip": 0.5}, "unknown key 'flip'; expected some of: crop, hflip, rotate, color"),
        ({"hflip": 1.5}, "hflip=1.5: expected the flip probability in [0, 1]"),
        ({"hflip": True}, "hflip=True"),
        ({"crop": [0.9, 0.8]}, "crop=[0.9, 0.8]: expected [low, high]"),
        ({"crop": [0.5, 2]}, "<= 1"),
        ({"crop": {"size": 3}}, "crop: unknown key 'size'"),
        ({"rotate": 0}, "rotate=0: expected the largest angle in (0, 180] degrees"),
        ({"rotate": "10"}, "rotate='10'"),
        ({"color": -3}, "color=-3: expected m in (0, 255]"),
        ({"color": [20, "x", 1]}, "expected one number per channel"),
        ({"color": {"shift": [1, 2, 3], "max": 4}}, "not both or neither"),
        ("hflip", "expected a table"),
    ],
)
def test_bad_specs_are_one_line_config_errors(spec, needle):
    with pytest.raises(ConfigError) as e:
        augmentation(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_color_shift_needs_one_shift_per_channel():
    with pytest.raises(ConfigError, match="3 shifts for images of 1 channels"):
        ColorShift()(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ConfigError, match=r"expected a float image batch \(B, C, H, W\)"):
        HorizontalFlip()(torch.zeros(3, 4, 4))


def test_rotation_keeps_non_square_images_upright():
    x = batch(2, 8, 16)
    out = Rotation((180, 180))(x)
    torch.testing.assert_close(out, torch.rot90(x, 2, dims=(-2, -1)), atol=1e-5, rtol=0)
    assert math.isclose(Rotation(5).degrees[1], 5.0)
