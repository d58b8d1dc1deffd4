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


def test_decision_grid_puts_each_prediction_at_its_node():
    from nnzoo.report.plots import decision_grid

    points = np.array([[0.0, -1.0], [2.0, 3.0]])
    seen = []

    def predict(nodes):
        seen.append(nodes.copy())
        return (nodes[:, 0] > nodes[:, 1]).astype(np.int64)  # below the diagonal: class 1

    grid = decision_grid(predict, points, steps=7, margin=0.5)
    assert grid.xx.shape == grid.yy.shape == grid.labels.shape == (7, 7)
    assert (grid.xx.min(), grid.xx.max(), grid.yy.min(), grid.yy.max()) == (-0.5, 2.5, -1.5, 3.5)
    np.testing.assert_array_equal(grid.labels, (grid.xx > grid.yy).astype(np.int64))
    assert seen[0].shape == (49, 2)
    # a torch classifier of its own, node by node: the same classes
    model = torch.nn.Linear(2, 2).double()
    grid = decision_grid(lambda n: model(torch.from_numpy(n)).argmax(-1).numpy(), points, steps=5)
    for i in range(5):
        for j in range(5):
            node = torch.tensor([grid.xx[i, j], grid.yy[i, j]], dtype=torch.float64)
            assert grid.labels[i, j] == int(model(node).argmax())
    with pytest.raises(ConfigError, match="one class per node"):
        decision_grid(lambda n: np.zeros((len(n), 1)), points)
    with pytest.raises(ConfigError, match=r"\(N, 2\)"):
        decision_grid(predict, np.zeros((3, 3)))


def test_plot_decision_boundaries_draws_a_panel_per_model(tmp_path):
    from PIL import Image

    from nnzoo.report.plots import decision_grid, plot_decision_boundaries

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    panels = {
        name: (decision_grid(f, x, steps=30), x, y)
        for name, f in {
            "vertical": lambda n: (n[:, 0] > 0).astype(int),
            "horizontal": lambda n: (n[:, 1] > 0).astype(int),
        }.items()
    }
    path = plot_decision_boundaries(panels, tmp_path / "b.png", title="two")
    assert_not_blank(load_png(path))
    with Image.open(path) as png:
        width, height = png.size
    assert width == 2 * 450 and height > 420
    with pytest.raises(ConfigError, match="N classes"):
        plot_decision_boundaries({"bad": (panels["vertical"][0], x, y[:5])}, tmp_path / "c.png")


def test_plot_functions_panels_and_log_x(tmp_path):
    from nnzoo.report.plots import plot_functions

    z = np.linspace(-5, 5, 101)
    path = plot_functions(
        {"g": {"tanh": (z, np.tanh(z))}, "g'": {"tanh": (z, 1 - np.tanh(z) ** 2)}},
        tmp_path / "f.png",
    )
    image = load_png(path)
    assert_not_blank(image)
    assert image.shape[1] == 2 * 500  # two panels of 5 inches
    steps = np.arange(1, 1001)
    # x <= 0 (and y <= 0) is left out on a log scale
    log = plot_functions(
        {"cost": {"run": (steps - 10, 1 / steps)}}, tmp_path / "log.png", logx=True, logy=True
    )
    assert load_png(log).shape[1] == 650  # one panel: at least 6.5 inches
    with pytest.raises(ConfigError, match="one length"):
        plot_functions({"g": {"bad": ([1, 2], [1])}}, tmp_path / "bad.png")
    with pytest.raises(ConfigError, match="at least one"):
        plot_functions({}, tmp_path / "none.png")
