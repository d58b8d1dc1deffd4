r"""Seeded augmentation of float image batches x (B, C, H, W) in [0, 1], in torch alone.

Shape legend: B images, C = 3 channels, H x W pixels. Every transform draws one decision per
image (flip or not, a box, an angle, a shift), so the images of a batch differ:

===================================  ============================================================
``HorizontalFlip(p)``                :math:`x'_{c,h,w} = x_{c,h,W-1-w}` with probability p
``RandomResizedCrop(scale, ratio)``  a box of area :math:`s H W`, :math:`s \sim U(\text{scale})`,
                                     aspect :math:`w/h = r`, :math:`\log r \sim U(\log
                                     \text{ratio})`, at a uniform place, resized back to H x W
                                     (bilinear)
``ColorShift(shift, p)``             the FIXED shift: :math:`x'_c = \mathrm{clip}(x_c + s_c /
                                     255, 0, 1)` with probability p (the capstone's R+20, G-19,
                                     B+20 is ``shift=(20, -19, 20)``)
``RandomColorShift(max_shift, p)``   a RANDOM shift per image and channel, :math:`s_c \sim
                                     U(-m, m)` in 0..255 units, then clipped as above
``Rotation(degrees, p)``             :math:`x'(u) = x(R_\theta u)` about the centre, :math:`\theta
                                     \sim U(-d, d)` degrees, counter-clockwise for :math:`\theta >
                                     0` as shown on screen (bilinear, zeros outside)
``Compose([t1, t2, ...])``           :math:`t_k(\dots t_2(t_1(x)))`
===================================  ============================================================

Randomness: every transform takes ``generator=None`` and then draws from torch's global
generator, which `nnzoo.engine.fit` reseeds at the start of every epoch, so a resumed run draws
the same augmentations as an uninterrupted one; an explicit `torch.Generator` makes a draw
independent of it. Draws are made on the CPU and moved to the batch's device, so a seed gives
the same augmentation on every device.

Config form (``data.options.augment`` of the image readers, `nnzoo.data.images`), parsed by
`augmentation`, applied in the order crop, hflip, rotate, color whatever the table's order::

    augment = {crop = [0.8, 1.0], hflip = 0.5, rotate = 10, color = 20}

=========  ====================================================================================
``crop``   ``[low, high]`` area scale (ratio 3/4..4/3), or ``{scale = [..], ratio = [..], p}``
``hflip``  the flip probability p in [0, 1]
``rotate`` the largest angle d in degrees (0, 180], or ``{degrees = d, p = ..}``
``color``  a number m: `RandomColorShift` (+-m per channel); a list of three: the fixed
           `ColorShift` always applied; or ``{shift = [20, -19, 20], p = 0.5}`` /
           ``{max = 20, p = 0.5}``
=========  ====================================================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.errors import ConfigError


def check_batch(x: Tensor, who: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ConfigError(f"{who}: expected a float image batch (B, C, H, W), got {got}")


def check_p(p: Any, who: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"{who}: p={p!r}; expected a probability in [0, 1]")
    return float(p)


def check_range(value: Any, who: str, low: float, high: float | None = None) -> tuple[float, float]:
    """``[a, b]`` with low <= a <= b (<= high)."""
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if ok:
        a, b = float(value[0]), float(value[1])
        ok = low <= a <= b and (high is None or b <= high)
    if not ok:
        top = f" <= {high:g}" if high is not None else ""
        raise ConfigError(f"{who}={value!r}: expected [low, high] with {low:g} <= low <= high{top}")
    return a, b


def uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    """(n,) float32 draws from U(low, high) on the CPU."""
    return low + (high - low) * torch.rand(n, generator=generator)


def chosen(n: int, p: float, generator: torch.Generator | None) -> Tensor:
    """(n,) bool: each image transformed with probability p (always one draw per image)."""
    return torch.rand(n, generator=generator) < p


def where(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """``new`` for the images of ``mask`` (B,), ``old`` for the others."""
    return torch.where(mask.to(old.device)[:, None, None, None], new, old)


class HorizontalFlip:
    """Mirror each image left to right with probability ``p``: x[..., ::-1].

    Args:
        p: the probability of a flip.
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_p(p, "HorizontalFlip")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, "HorizontalFlip")
        return where(chosen(len(x), self.p, generator), x.flip(-1), x)

    def __repr__(self) -> str:
        return f"hflip {self.p:g}"


class RandomResizedCrop:
    r"""A random box of each image, resized back to the image's H x W.

    The box has :math:`w \times h` whole pixels with :math:`w h \approx s H W`, :math:`w / h
    \approx r`, :math:`s \sim U(\text{scale})`, :math:`\log r \sim U(\log \text{ratio})`;
    w and h are rounded and clipped to the image (torchvision retries such draws; here a box that
    does not fit is clipped), its corner uniform over the places it fits. Resizing is bilinear
    with ``align_corners=False`` inside the box, exactly as
    ``F.interpolate(x[..., top:top + h, left:left + w], (H, W), mode="bilinear")``.

    Args:
        scale: the range of the box's area as a share of the image's.
        ratio: the range of the box's aspect w / h.
        p: the probability that an image is cropped (else it is left as it is).
    """

    def __init__(
        self,
        scale: Sequence[float] = (0.8, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        p: float = 1.0,
    ) -> None:
        self.scale = check_range(tuple(scale), "RandomResizedCrop: scale", 1e-6, 1.0)
        self.ratio = check_range(tuple(ratio), "RandomResizedCrop: ratio", 1e-6)
        self.p = check_p(p, "RandomResizedCrop")

    def boxes(self, n: int, H: int, W: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, 4) int64 boxes (left, top, w, h), drawn as the class says."""
        s = uniform(n, *self.scale, generator)
        log_r = uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator)
        r = log_r.exp()
        w = torch.sqrt(s * H * W * r).round().clamp(1, W).long()
        h = torch.sqrt(s * H * W / r).round().clamp(1, H).long()
        left = (torch.rand(n, generator=generator) * (W - w + 1)).floor().long().clamp_max(W - w)
        top = (torch.rand(n, generator=generator) * (H - h + 1)).floor().long().clamp_max(H - h)
        return torch.stack([left, top, w, h], 1)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, "RandomResizedCrop")
        B, _, H, W = x.shape
        mask = chosen(B, self.p, generator)
        return where(mask, crop_resize(x, self.boxes(B, H, W, generator)), x)

    def __repr__(self) -> str:
        (a, b), (c, d) = self.scale, self.ratio
        return f"crop scale [{a:g}, {b:g}] ratio [{c:.3g}, {d:.3g}]" + (
            f" p {self.p:g}" if self.p < 1 else ""
        )


def crop_resize(x: Tensor, boxes: Tensor) -> Tensor:
    """Box (left, top, w, h) of each image of x (B, C, H, W), resized bilinearly to H x W.

    Output pixel j samples the box at ``left + (j + 1/2) w / W - 1/2``, clamped to the box's
    first and last pixel (as ``F.interpolate(..., align_corners=False)`` of the cut-out box).
    """
    B, _, H, W = x.shape
    boxes = boxes.to(torch.float64)
    left, top, w, h = boxes.unbind(1)  # (B,) each

    def axis(start: Tensor, length: Tensor, size: int) -> Tensor:
        j = torch.arange(size, dtype=torch.float64) + 0.5  # (size,)
        pixel = start[:, None] + j[None, :] * (length / size)[:, None] - 0.5  # (B, size)
        pixel = torch.maximum(pixel, start[:, None])
        pixel = torch.minimum(pixel, (start + length - 1)[:, None])
        return (2 * pixel + 1) / size - 1  # normalised, align_corners=False

    gx, gy = axis(left, w, W), axis(top, h, H)  # (B, W), (B, H)
    grid = torch.stack(
        [gx[:, None, :].expand(B, H, W), gy[:, :, None].expand(B, H, W)], -1
    )  # (B, H, W, 2)
    grid = grid.to(device=x.device, dtype=x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class ColorShift:
    """Add the FIXED shift ``shift`` (0..255 units, one per channel) with probability ``p``.

    :math:`x'_c = \\mathrm{clip}(x_c + s_c / 255, 0, 1)`; ``shift=(20, -19, 20)`` is the
    capstone's R+20, G-19, B+20.

    Args:
        shift: one value per channel, in 0..255 units.
        p: the probability that an image is shifted.
    """

    def __init__(self, shift: Sequence[float] = (20, -19, 20), p: float = 1.0) -> None:
        self.shift = check_shift(shift, "ColorShift: shift")
        self.p = check_p(p, "ColorShift")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, "ColorShift")
        if x.shape[1] != len(self.shift):
            raise ConfigError(
                f"ColorShift: {len(self.shift)} shifts for images of {x.shape[1]} channels; "
                "give one shift per channel"
            )
        s = torch.tensor(self.shift, dtype=x.dtype, device=x.device)[None, :, None, None] / 255
        return where(chosen(len(x), self.p, generator), (x + s).clamp(0.0, 1.0), x)

    def __repr__(self) -> str:
        return f"color shift {list(self.shift)} p {self.p:g}"


def check_shift(shift: Any, who: str) -> tuple[float, ...]:
    if (
        not isinstance(shift, (list, tuple))
        or not shift
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in shift)
        or any(abs(v) > 255 for v in shift)
    ):
        raise ConfigError(
            f"{who}={shift!r}: expected one number per channel in [-255, 255], e.g. [20, -19, 20]"
        )
    return tuple(float(v) for v in shift)


class RandomColorShift:
    """Add a RANDOM shift to each channel of each image: U(-max_shift, max_shift) / 255, clipped.

    Args:
        max_shift: the largest shift, in 0..255 units.
        p: the probability that an image is shifted.
    """

    def __init__(self, max_shift: float = 20, p: float = 1.0) -> None:
        if (
            isinstance(max_shift, bool)
            or not isinstance(max_shift, (int, float))
            or not 0 < max_shift <= 255
        ):
            raise ConfigError(
                f"RandomColorShift: max_shift={max_shift!r}; expected a number in (0, 255]"
            )
        self.max_shift = float(max_shift)
        self.p = check_p(p, "RandomColorShift")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, "RandomColorShift")
        B, C = x.shape[:2]
        mask = chosen(B, self.p, generator)
        m = self.max_shift
        s = uniform(B * C, -m, m, generator).view(B, C, 1, 1) / 255
        return where(mask, (x + s.to(device=x.device, dtype=x.dtype)).clamp(0.0, 1.0), x)

    def __repr__(self) -> str:
        return f"color ±{self.max_shift:g}" + (f" p {self.p:g}" if self.p < 1 else "")


class Rotation:
    r"""Rotate each image about its centre by :math:`\theta \sim U(\text{degrees})`.

    Output pixel u (from the centre, in pixels) takes the input at :math:`R_\theta u`,
    bilinearly, zeros outside the image; a positive angle turns the picture counter-clockwise
    as shown (rows down), so 90 degrees is ``torch.rot90(x, 1, (-2, -1))`` on a square image.

    Args:
        degrees: d for angles in [-d, d], or a range (low, high).
        p: the probability that an image is rotated.
    """

    def __init__(self, degrees: float | Sequence[float] = 10.0, p: float = 1.0) -> None:
        if isinstance(degrees, (list, tuple)):
            self.degrees = check_range(tuple(degrees), "Rotation: degrees", -360.0, 360.0)
        elif (
            isinstance(degrees, bool)
            or not isinstance(degrees, (int, float))
            or not 0 < degrees <= 180
        ):
            raise ConfigError(f"Rotation: degrees={degrees!r}; expected a number in (0, 180]")
        else:
            self.degrees = (-float(degrees), float(degrees))
        self.p = check_p(p, "Rotation")

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, "Rotation")
        B = len(x)
        mask = chosen(B, self.p, generator)
        theta = uniform(B, *self.degrees, generator).double() * (math.pi / 180)
        return where(mask, rotate(x, theta), x)

    def __repr__(self) -> str:
        a, b = self.degrees
        span = f"±{b:g}°" if a == -b else f"[{a:g}°, {b:g}°]"
        return f"rotate {span}" + (f" p {self.p:g}" if self.p < 1 else "")


def rotate(x: Tensor, theta: Tensor) -> Tensor:
    """x (B, C, H, W) rotated by theta (B,) radians, counter-clockwise on screen, zeros outside.

    In normalised coordinates (align_corners=False) the sampling grid is
    ``[x_in, y_in] = [[cos, -sin H/W], [sin W/H, cos]] [x_out, y_out]`` (y pointing down).
    """
    B, _, H, W = x.shape
    cos, sin = theta.cos(), theta.sin()
    zero = torch.zeros_like(cos)
    affine = torch.stack(
        [torch.stack([cos, -sin * H / W, zero], -1), torch.stack([sin * W / H, cos, zero], -1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(affine, [B, 1, H, W], align_corners=False)  # (B, H, W, 2) float64
    grid = grid.to(device=x.device, dtype=x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Compose:
    """The transforms one after the other, each given the same generator.

    Args:
        transforms: callables ``t(x, generator)`` on (B, C, H, W) batches.
    """

    def __init__(self, transforms: Sequence[Any]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __repr__(self) -> str:
        return ", ".join(map(repr, self.transforms)) or "none"


# -- the config form --------------------------------------------------------------------------

KEYS = ("crop", "hflip", "rotate", "color")  # also the order in which they are applied
WHO = "data.options.augment"


def augmentation(spec: Mapping[str, Any] | None) -> Compose | None:
    """The `Compose` a config's ``data.options.augment`` table asks for; None for none.

    Args:
        spec: e.g. ``{"hflip": 0.5, "crop": [0.8, 1.0], "rotate": 10, "color": 20}`` (see the
            module docstring); None or an empty table: no augmentation.

    Raises:
        ConfigError: one line naming the bad key or value and what it takes.
    """
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{WHO}={spec!r}: expected a table, e.g. {{hflip = 0.5, crop = [0.8, 1.0], "
            "rotate = 10, color = 20}"
        )
    unknown = [k for k in spec if k not in KEYS]
    if unknown:
        raise ConfigError(
            f"{WHO}: unknown key {', '.join(map(repr, unknown))}; expected some of: "
            f"{', '.join(KEYS)}"
        )
    transforms = [BUILD[key](spec[key]) for key in KEYS if key in spec]
    return Compose(transforms) if transforms else None


def table(value: Mapping[str, Any], key: str, takes: Sequence[str]) -> dict[str, Any]:
    extra = [k for k in value if k not in takes]
    if extra:
        raise ConfigError(
            f"{WHO}.{key}: unknown key {', '.join(map(repr, extra))}; expected some of: "
            f"{', '.join(takes)}"
        )
    return dict(value)


def build_crop(value: Any) -> RandomResizedCrop:
    if isinstance(value, Mapping):
        kw = table(value, "crop", ("scale", "ratio", "p"))
    else:
        kw = {"scale": check_range(value, f"{WHO}.crop", 1e-6, 1.0)}
    return RandomResizedCrop(**kw)


def build_hflip(value: Any) -> HorizontalFlip:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{WHO}.hflip={value!r}: expected the flip probability in [0, 1]")
    return HorizontalFlip(value)


def build_rotate(value: Any) -> Rotation:
    if isinstance(value, Mapping):
        kw = table(value, "rotate", ("degrees", "p"))
        return Rotation(**kw)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 180:
        raise ConfigError(f"{WHO}.rotate={value!r}: expected the largest angle in (0, 180] degrees")
    return Rotation(value)


def build_color(value: Any) -> ColorShift | RandomColorShift:
    if isinstance(value, Mapping):
        kw = table(value, "color", ("shift", "max", "p"))
        if ("shift" in kw) == ("max" in kw):
            raise ConfigError(
                f"{WHO}.color: give shift = [r, g, b] (a fixed shift) or max = m (a random "
                "shift up to ±m), not both or neither"
            )
        if "shift" in kw:
            return ColorShift(kw["shift"], kw.get("p", 1.0))
        return RandomColorShift(kw["max"], kw.get("p", 1.0))
    if isinstance(value, (list, tuple)):
        return ColorShift(check_shift(value, f"{WHO}.color"))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 255:
        raise ConfigError(
            f"{WHO}.color={value!r}: expected m in (0, 255] (a random shift up to ±m), "
            "[r, g, b] (a fixed shift) or a table {shift = [..], p = ..} / {max = m, p = ..}"
        )
    return RandomColorShift(value)


BUILD = {"crop": build_crop, "hflip": build_hflip, "rotate": build_rotate, "color": build_color}
