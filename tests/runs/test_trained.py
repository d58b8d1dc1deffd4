"""load_trained / find_checkpoint: a run folder (or a loose checkpoint) back to its model."""

import shutil

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.engine.checkpoint import CheckpointError, digest, load_checkpoint
from nnzoo.errors import NnzooError
from nnzoo.models import create_model
from nnzoo.runs.train import train_run
from nnzoo.runs.trained import find_checkpoint, load_trained
from tests.engine.test_fit import synthetic_splits

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = RunConfig(
        model=ModelConfig(cell="gru", hidden=5, layers=1),
        train=TrainConfig(epochs=1, batch_size=16, seed=2),
    )
    folder = tmp_path_factory.mktemp("trained") / "run"
    train_run(config, folder, splits=synthetic_splits(), progress=False, write_report=False)
    return folder


def test_the_model_has_the_checkpoints_weights_and_is_in_eval_mode(run_dir):
    model, ckpt, path = load_trained(run_dir)
    assert path == run_dir / "checkpoints" / "best.pt" and not model.training
    saved = load_checkpoint(path)
    reference = create_model(saved["run_config"].model, saved["extra"]["num_features"], 2)
    reference.load_state_dict(saved["model"])
    x = torch.randn(4, 7, saved["extra"]["num_features"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))
    assert ckpt["run_config"] == saved["run_config"]
    assert load_trained(path).path == path  # a checkpoint file as it is


def test_best_falls_back_to_last_and_missing_ones_are_named(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "checkpoints" / "best.pt").unlink()
    assert find_checkpoint(copy) == copy / "checkpoints" / "last.pt"
    assert find_checkpoint(copy, "last") == copy / "checkpoints" / "last.pt"
    (copy / "checkpoints" / "last.pt").unlink()
    with pytest.raises(CheckpointError, match="no checkpoints/best.pt"):
        find_checkpoint(copy)
    with pytest.raises(NnzooError, match="no such run folder or checkpoint"):
        find_checkpoint(tmp_path / "nowhere")


def rewritten(run_dir, tmp_path, change):
    """A copy of the run's best checkpoint with ``change`` applied, its digest made to fit (so
    what refuses it is the check of what it holds)."""
    raw = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    change(raw)
    raw["digest"] = digest(raw)
    path = tmp_path / "changed.pt"
    torch.save(raw, path)
    return path


def test_wrong_shaped_weights_are_one_line_naming_the_parameter(run_dir, tmp_path):
    original = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["model"]
    name = next(k for k, v in original.items() if v.dim() == 2)
    rows, cols = original[name].shape

    def widen(raw):
        raw["model"][name] = torch.zeros(rows + 3, cols)

    path = rewritten(run_dir, tmp_path, widen)
    with pytest.raises(CheckpointError) as info:
        load_trained(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert f"{name} is [{rows + 3}, {cols}] in the checkpoint, [{rows}, {cols}] in the model" in (
        message
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.pop("extra"),
        lambda raw: raw["extra"].pop("num_features"),
        lambda raw: raw["extra"].update(num_features="3"),
        lambda raw: raw["extra"].update(input_shape=7),
        lambda raw: raw["extra"].update(num_classes=0),
    ],
    ids=["no-extra", "no-num-features", "text-size", "int-shape", "zero-classes"],
)
def test_a_checkpoint_without_its_data_sizes_is_one_line(run_dir, tmp_path, change):
    path = rewritten(run_dir, tmp_path, change)
    with pytest.raises(CheckpointError, match="does not say the sizes of its data") as info:
        load_trained(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
