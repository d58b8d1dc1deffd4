"""load_trained / find_checkpoint: a run folder (or a loose checkpoint) back to its model."""

import shutil

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.engine.checkpoint import CheckpointError, load_checkpoint
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
