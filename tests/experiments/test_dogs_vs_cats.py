"""`nnzoo reproduce dogs-vs-cats --quick` on a tiny generated folder of Kaggle-named JPEGs.

References: each run's own results.json (the report's accuracies), scikit-learn's log loss of
the recorded probabilities, a freshly built EfficientNet-Lite0 for the cached features, and the
frozen run's selected validation loss for the fine-tuned run's starting point.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss as sklearn_log_loss

from nnzoo.cli import main
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.experiments.dogs_vs_cats import RUNS, log_loss
from nnzoo.models.transfer import EfficientNetLite0, extract_features
from tests.data.test_images import make_folder

pytestmark = pytest.mark.usefixtures("one_thread")
SIZE = 32


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNZOO_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield _reproduce(tmp_path_factory)


def _reproduce(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_folder(root / "dogs-vs-cats-subset" / "train", per_class=10, ext="jpg")
    out = tmp_path_factory.mktemp("out")
    argv = ["reproduce", "dogs-vs-cats", "--quick", "--size", str(SIZE), "--transfer-size",
            str(SIZE), "--data-root", str(root), "--out", str(out), "--runs", str(out / "runs"),
            "--threads", "1", "--jobs", "1"]  # fmt: skip
    assert main(argv) == 0
    return argv, out, json.loads((out / "dogs-vs-cats.json").read_text())


def results_of(row):
    return json.loads((Path(row["run"]) / "results.json").read_text())


def test_every_run_is_there_and_its_numbers_are_its_results(reproduced):
    _, out, record = reproduced
    assert list(record["runs"]) == list(RUNS)
    assert record["data"] == {"train": 12, "val": 4, "test": 4, "classes": ["cat", "dog"]}
    text = (out / "dogs-vs-cats.md").read_text()
    for row in record["runs"].values():
        results = results_of(row)
        assert row["test_accuracy"] == results["test"]["accuracy"]
        assert row["val_accuracy"] == results["selected_val"]["val_accuracy"]
        assert row["val_loss"] == results["selected_val"]["val_loss"]
        assert row["epochs_run"] == results["epochs_run"] <= 2  # --quick
        assert row["params"] == results["params"]
        # the recorded probabilities are the selected checkpoint's: they give its accuracy
        p, y = np.array(row["test_probabilities"]), np.array(record["test_labels"])
        assert np.mean((p >= 0.5) == (y == 1)) == pytest.approx(results["test"]["accuracy"])
        assert row["test_log_loss"] == pytest.approx(sklearn_log_loss(y, p, labels=[0, 1]))
        line = next(r for r in text.splitlines() if r.startswith(f"| {row['title']} "))
        assert f"| {row['test_accuracy']:.1%} " in line
        assert f"| {row['val_accuracy']:.1%} " in line
        assert f"| {row['test_log_loss']:.4f} " in line


def test_augmentation_reaches_only_the_augmented_runs(reproduced):
    _, _, record = reproduced
    runs = record["runs"]
    assert "augment" in runs["vgg-augment"]["data"] and "augment" not in runs["vgg"]["data"]
    assert "augment" in runs["transfer-finetuned"]["data"]
    assert runs["vgg"]["options"] == runs["vgg-augment"]["options"]


def test_the_frozen_phase_trains_on_cached_features(reproduced):
    _, out, record = reproduced
    row = record["runs"]["transfer-frozen"]
    path = out / "runs" / f"features-{SIZE}.pt"
    assert row["features"]["file"] == str(path) and path.exists()
    cached = torch.load(path, weights_only=True)
    assert cached["train"].shape == (12, 1280) and cached["test"].shape == (4, 1280)
    results = results_of(row)
    assert results["data"] == "dogs-vs-cats-features" and results["data_info"]["features"] == 1280
    assert results["params"] == 1280 + 1  # linear-head on 1280 features, one sigmoid output
    extra = load_checkpoint(out / "runs" / "transfer-frozen" / "checkpoints" / "best.pt")["extra"]
    assert extra["input_shape"] == [1280]
    # the features are the ImageNet backbone's on the test images, decoded again here
    from nnzoo.runs.train import load_splits

    argv = reproduced[0]
    config = load_checkpoint(out / "runs" / "transfer-finetuned" / "checkpoints" / "last.pt")
    images = load_splits(config["run_config"], argv[argv.index("--data-root") + 1])
    model = EfficientNetLite0((3, SIZE, SIZE), 1)
    torch.testing.assert_close(extract_features(model, images.test.x[:]), cached["test"])
    assert cached["y_test"].tolist() == record["test_labels"]


def test_fine_tuning_starts_from_the_frozen_head(reproduced):
    _, out, record = reproduced
    frozen, fine = record["runs"]["transfer-frozen"], record["runs"]["transfer-finetuned"]
    start = fine["start"]
    assert start["head_from"] == str(out / "runs" / "transfer-frozen" / "checkpoints" / "best.pt")
    assert start["head_epoch"] == frozen["selected_epoch"]
    # the full model on images, with that head, scores what the head scored on the features
    assert start["start_val_loss"] == pytest.approx(frozen["val_loss"], abs=1e-5)
    state = load_checkpoint(out / "runs" / "transfer-finetuned" / "checkpoints" / "last.pt")
    assert state["run_config"].model.options["train_blocks"] > 0
    head = load_checkpoint(out / "runs" / "transfer-frozen" / "checkpoints" / "best.pt")["model"]
    moved = (state["model"]["head.weight"] - head["head.weight"]).abs().max()
    assert 0 < moved < 0.01  # trained from it at a small lr, not from a fresh head


def test_rerun_picks_up_runs_and_features_and_report_rebuilds(reproduced):
    argv, out, record = reproduced
    features = out / "runs" / f"features-{SIZE}.pt"
    before = features.stat().st_mtime_ns, (out / "runs" / "vgg" / "results.json").stat().st_mtime_ns
    assert main(argv) == 0
    after = features.stat().st_mtime_ns, (out / "runs" / "vgg" / "results.json").stat().st_mtime_ns
    assert before == after
    assert json.loads((out / "dogs-vs-cats.json").read_text())["runs"] == record["runs"]
    text = (out / "dogs-vs-cats.md").read_text()
    assert "Test predictions" in text and (out / "dogs-vs-cats-predictions.png").exists()
    assert (out / "dogs-vs-cats.html").exists()
    for key in RUNS:
        assert f"](dogs-vs-cats-curves-{key}.png)" in text
        assert (out / f"dogs-vs-cats-curves-{key}.png").exists()
    (out / "dogs-vs-cats.md").unlink()
    assert main(["report", str(out / "dogs-vs-cats.json")]) == 0
    assert (out / "dogs-vs-cats.md").read_text() == text


def test_targets_are_judged_from_the_record(reproduced):
    _, out, record = reproduced
    runs = record["runs"]
    met = [t["met"] for t in record["targets"]]
    fine = runs["transfer-finetuned"]
    assert met == [
        fine["test_accuracy"] >= 0.97,
        fine["test_log_loss"] <= 0.10,
        runs["vgg-augment"]["val_loss"] < runs["vgg"]["val_loss"],
    ]
    text = (out / "dogs-vs-cats.md").read_text()
    assert text.count("| MISSED |") == met.count(False) and text.count("| met ") == met.count(True)


def test_kaggle_log_loss_clips_at_1e_15():
    assert log_loss([0.0], [1]) == pytest.approx(-math.log(1e-15))  # 34.54, not infinite
    assert log_loss([1.0], [0]) == pytest.approx(-math.log(1 - (1 - 1e-15)))  # in float64
    assert log_loss([1.0, 0.0], [1, 0]) == pytest.approx(-math.log(1 - 1e-15))
    p, y = np.array([0.9, 0.2, 0.6, 0.4]), np.array([1, 0, 0, 1])
    assert log_loss(p, y) == pytest.approx(sklearn_log_loss(y, p))


def test_bad_flags_are_one_line(tmp_path, capsys):
    for flag, value in (("--epochs", "0"), ("--size", "0")):
        code = main(["reproduce", "dogs-vs-cats", flag, value, "--data-root", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and f"{flag}={value}" in err
