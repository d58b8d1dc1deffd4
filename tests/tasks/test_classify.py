"""The classify task's binary option against scikit-learn's log loss, and end to end."""

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from nnzoo.cli import main
from nnzoo.config import ModelConfig, TaskConfig
from nnzoo.data import load_dataset, save_sequences_npz
from nnzoo.models import create_model
from nnzoo.runs.trained import load_trained
from nnzoo.tasks import create_task

pytestmark = pytest.mark.usefixtures("one_thread")


def adding():
    return load_dataset("adding", seed=0, length=6, train_size=40, val_size=8, test_size=30)


def test_binary_log_loss_accuracy_and_step_match_references():
    splits = adding()
    task = create_task(TaskConfig("classify", {"binary": True}))
    dims = task.model_dims(splits)
    assert dims["num_classes"] == 1
    torch.manual_seed(0)
    model = create_model(ModelConfig(cell="gru", hidden=4, layers=1), 2, 1).eval()
    with torch.no_grad():
        p = torch.sigmoid(model(splits.test.x).squeeze(-1)).double().numpy()  # P(class 1)
    y = splits.test.y.numpy()
    metrics = task.evaluate(model, splits.test)
    assert metrics["loss"] == pytest.approx(log_loss(y, p, labels=[0, 1]), abs=1e-6)
    assert metrics["accuracy"] == np.mean((p >= 0.5) == y)
    step = task.step(model, task.collate(splits.test, torch.arange(len(y))))
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert step.loss.item() == pytest.approx(bce, abs=1e-6)
    assert step.counts["correct"] == int(((p >= 0.5) == y).sum())


def test_binary_needs_two_classes(capsys):
    code = main(["train", "--data", "first-symbol", "--set", "task.options.binary=true"])
    err = capsys.readouterr().err
    assert code == 2 and "needs exactly 2" in err and len(err.strip().splitlines()) == 1


def test_unknown_task_and_option_are_one_line(capsys):
    for flag, needle in (("task.name=nope", "unknown task 'nope'"),
                         ("task.options.bogus=1", "has no option 'bogus'")):  # fmt: skip
        code = main(["train", "--data", "first-symbol", "--set", flag])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_binary_trains_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", "adding", "--set", "data.options.length=6", "--set",
            "data.options.train_size=200", "--set", "task.options.binary=true", "--cell", "gru",
            "--hidden", "8", "--layers", "1", "--epochs", "3", "--batch-size", "16",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "classify" and len(results["test"]["confusion"]) == 2
    assert (out / "plots" / "confusion.png").is_file()
    # nnzoo evaluate rebuilds the one-output model from the checkpoint and agrees with the run
    assert main(["evaluate", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert f"test accuracy {results['test']['accuracy']:.4f}" in printed
    # nnzoo predict: the class of P(class 1) >= 0.5, computed here from the model itself
    splits = load_dataset("adding", seed=0, length=6, train_size=200)
    new = tmp_path / "new.npz"
    save_sequences_npz(new, splits.test.x[:7], splits.test.y[:7])
    assert main(["predict", str(out), str(new)]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
    model, ckpt, _ = load_trained(out)
    with torch.no_grad():
        p = torch.sigmoid(model(splits.test.x[:7]).squeeze(-1))  # adding is not standardised
    names = ckpt["extra"]["class_names"]
    assert [r[1] for r in rows] == [names[int(v >= 0.5)] for v in p]
    for r, v in zip(rows, p.tolist()):
        assert float(r[2]) == pytest.approx(max(v, 1 - v), abs=1e-6)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"num_features": 3}, "no class names"),
        ({"class_names": ["a"], "num_features": 3}, "no class names"),
        ({"class_names": ["a", "b"]}, "no feature count"),
        ({"class_names": ["a", "b"], "num_features": "3"}, "no feature count"),
    ],
)
def test_predict_refuses_a_checkpoint_extra_without_names_or_features(tmp_path, extra, match):
    from nnzoo.errors import ConfigError
    from nnzoo.tasks.classify import Classify

    with pytest.raises(ConfigError, match=match) as info:
        Classify().predict_file(None, tmp_path / "new.csv", extra)
    assert "train the run again" in str(info.value) and "\n" not in str(info.value)


def test_log_loss_is_kaggles_clipped_binary_cross_entropy():
    from sklearn.metrics import log_loss as sklearn_log_loss

    from nnzoo.tasks.metrics import log_loss

    rng = np.random.default_rng(0)
    p = rng.random(50)
    p[:3] = [0.0, 1.0, 1e-20]  # certain and wrong / right: clipped to 1e-15, as Kaggle does
    y = rng.integers(0, 2, 50)
    y[:3] = [1, 0, 1]
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    probs = np.stack([1 - p, p], axis=1)
    assert log_loss(probs, y) == pytest.approx(sklearn_log_loss(y, clipped), rel=1e-12)
    by_hand = -np.mean(np.log(np.where(y == 1, clipped, 1 - clipped)))
    assert log_loss(probs, y) == pytest.approx(by_hand, rel=1e-12)
    three = rng.dirichlet(np.ones(3), size=40)
    labels = rng.integers(0, 3, 40)
    assert log_loss(three, labels) == pytest.approx(sklearn_log_loss(labels, three), rel=1e-12)


def image_run(tmp_path):
    """A tiny cat / dog image-folder run (8 x 8 pixels) and its folder of images."""
    from tests.data.test_images import make_folder

    make_folder(tmp_path / "pets", per_class=8)
    out = tmp_path / "run"
    argv = ["train", "--data", "image-folder", "--data-path", str(tmp_path / "pets"),
            "--model", "vgg", "--set", "model.options.blocks=[1]", "--set",
            "model.options.width=4", "--set", "model.options.head=8", "--set",
            "data.options.size=8", "--set", "task.options.binary=true",
            "--epochs", "1", "--batch-size", "4", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out, tmp_path / "pets"


def test_predict_images_sentences_kaggle_csv_and_contact_sheet(tmp_path, capsys):
    from nnzoo.data.images import decode_image

    out, pets = image_run(tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert isinstance(results["test"]["log_loss"], float)
    capsys.readouterr()
    trained = load_trained(out)
    trained.model.eval()

    def p_dog(path):  # the model itself on the image decoded as training decoded it
        x = torch.from_numpy(decode_image(path, 8, "crop")).float()[None] / 255.0
        with torch.no_grad():
            return float(torch.sigmoid(trained.model(x)).squeeze())

    one, two = pets / "dog.3.png", pets / "cat.1.png"
    assert main(["predict", str(out), str(one), str(two)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for line, path in zip(lines, (one, two)):
        p = p_dog(path)
        said = "dog" if p >= 0.5 else "cat"
        sure = 100 * (p if said == "dog" else 1 - p)
        assert line == f"{path.name}: I am {sure:.1f}% sure this is a {said}"

    (pets / "notes.txt").write_text("not an image")
    sheet = tmp_path / "sheet.png"
    assert main(["predict", str(out), str(pets), "--output", str(tmp_path / "sub.csv"),
                 "--sheet", str(sheet)]) == 0  # fmt: skip
    rows = (tmp_path / "sub.csv").read_text().splitlines()
    assert rows[0] == "id,label" and len(rows) == 1 + 16
    by_id = {}
    for row in rows[1:]:
        key, value = row.split(",")
        by_id.setdefault(key, []).append(float(value))
    assert sorted(by_id) == sorted(str(i) for i in range(8))  # Kaggle ids: cat.3.png -> 3
    cat3, dog3 = p_dog(pets / "cat.3.png"), p_dog(pets / "dog.3.png")  # natural order
    assert by_id["3"] == pytest.approx([cat3, dog3], abs=1e-6)
    assert sheet.exists()
    assert "notes.txt" in capsys.readouterr().err  # skipped with a warning naming it
