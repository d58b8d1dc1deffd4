import math
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")
from matplotlib.image import imread

from nnzoo.errors import ConfigError
from nnzoo.report.plots import DPI, plot_compare, plot_confusion, plot_curves

HISTORY = [
    {
        "epoch": e,
        "loss": 1.0 / e,
        "val_loss": 1.2 / e,
        "accuracy": 1 - 0.5 / e,
        "val_accuracy": 1 - 0.6 / e,
        "lr": 1e-3,
    }
    for e in range(1, 11)
]


def load_png(path):
    """The image (H, W, channels) in [0, 1], after checking it is a PNG file."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000
    return imread(path)


def assert_not_blank(image):
    rgb = image[..., :3]
    assert rgb.std() > 0.05
    inked = (rgb < 0.9).any(axis=-1).mean()  # share of pixels that are not (nearly) white
    assert 0.01 < inked < 0.9


def test_plot_curves_draws_two_panels(tmp_path):
    path = plot_curves(HISTORY, tmp_path / "plots" / "curves.png", title="LSTM")
    assert path == tmp_path / "plots" / "curves.png"
    image = load_png(path)
    assert image.shape[:2] == (4 * DPI, 10 * DPI)
    assert_not_blank(image)


def test_plot_curves_skips_missing_keys(tmp_path):
    only_loss = [{"epoch": r["epoch"], "loss": r["loss"]} for r in HISTORY]
    image = load_png(plot_curves(only_loss, tmp_path / "loss.png"))
    assert image.shape[:2] == (4 * DPI, 5 * DPI)  # the accuracy panel is left out
    assert_not_blank(image)

    # Validation every other epoch, a NaN loss, tensors, no "epoch" key.
    ragged = [
        {
            "loss": torch.tensor(1.0 / (i + 1)) if i != 3 else math.nan,
            **({"val_accuracy": 0.5 + 0.04 * i} if i % 2 else {}),
        }
        for i in range(10)
    ]
    image = load_png(plot_curves(ragged, tmp_path / "ragged.png"))
    assert image.shape[:2] == (4 * DPI, 10 * DPI)
    assert_not_blank(image)


def test_plot_curves_without_any_curve_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"history: no loss, val_loss, accuracy, val_accuracy"):
        plot_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "x.png")
    with pytest.raises(ConfigError, match=r"history: .* \(0 records"):
        plot_curves([], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("normalize", [True, False])
def test_plot_confusion(tmp_path, normalize):
    cm = torch.tensor([[50, 3, 0, 1], [4, 40, 6, 0], [0, 2, 45, 3], [0, 0, 0, 0]])
    names = ["walking", "upstairs", "downstairs", "never seen"]
    path = plot_confusion(cm, names, tmp_path / "cm.png", normalize=normalize)
    image = load_png(path)
    assert_not_blank(image)
    rgb = image[..., :3]
    dark_blue = (rgb[..., 2] > 0.3) & (rgb[..., 0] < 0.2)  # the heavy diagonal cells
    assert dark_blue.mean() > 0.01


def test_plot_confusion_annotations_follow_normalize(tmp_path):
    cm = np.array([[5, 1], [2, 7]])
    a = load_png(plot_confusion(cm, ["a", "b"], tmp_path / "a.png", normalize=True))
    b = load_png(plot_confusion(cm, ["a", "b"], tmp_path / "b.png", normalize=False))
    assert a.shape == b.shape
    assert not np.array_equal(a, b)


def test_plot_confusion_checks_the_shape(tmp_path):
    with pytest.raises(ConfigError, match=r"cm: expected a \(3, 3\) matrix for 3 class names"):
        plot_confusion(np.eye(2), ["a", "b", "c"], tmp_path / "cm.png")


def test_plot_compare_skips_runs_without_the_key(tmp_path):
    runs = {
        "lstm": HISTORY,
        "gru": [{**r, "val_accuracy": r["val_accuracy"] - 0.05} for r in HISTORY],
        "no validation": [{"epoch": 1, "loss": 1.0}],
    }
    image = load_png(plot_compare(runs, "val_accuracy", tmp_path / "compare.png"))
    assert_not_blank(image)
    with pytest.raises(ConfigError, match=r"key: no run has values for 'f1'"):
        plot_compare(runs, "f1", tmp_path / "f1.png")


def test_plots_do_not_touch_pyplot(tmp_path):
    code = (
        "import sys; from nnzoo.report.plots import plot_curves; "
        f"plot_curves([{{'loss': 1.0}}, {{'loss': 0.5}}], {str(tmp_path / 'c.png')!r}); "
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_epoch_axes_have_whole_ticks_and_strings_are_skipped(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnzoo.report.plots import _epoch_axis, _series

    history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": "oops"}, {"epoch": 3, "loss": 0.2}]
    assert _series(history, "loss") == ([1.0, 3.0], [0.5, 0.2])
    plot_curves(history, tmp_path / "c.png")  # no error on the string
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [0.5, 0.3, 0.2])
    _epoch_axis(ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_image_gallery_draws_every_layout_and_refuses_a_caption_count_mismatch(tmp_path):
    from PIL import Image

    from nnzoo.errors import ConfigError
    from nnzoo.report.plots import plot_image_gallery

    rng = np.random.default_rng(0)
    chw = rng.random((7, 3, 8, 8))
    for name, images in {"chw": chw, "hwc": chw.transpose(0, 2, 3, 1), "gray": chw[:, 0]}.items():
        path = plot_image_gallery(images, [f"#{i}" for i in range(7)], tmp_path / f"{name}.png",
                                  title="seven", columns=3)  # fmt: skip
        with Image.open(path) as png:
            width, height = png.size
        assert width == 3 * 200 and height > 3 * 200  # 3 columns, 3 rows and a title
    with pytest.raises(ConfigError, match="one caption each"):
        plot_image_gallery(chw, ["a"], tmp_path / "bad.png")
