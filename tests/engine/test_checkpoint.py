"""Checkpoints: bad files are CheckpointErrors naming the path; nothing needs unpickling."""

import os

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig
from nnzoo.engine.checkpoint import (
    FORMAT,
    CheckpointError,
    atomic_save,
    config_of,
    load_checkpoint,
    save_checkpoint,
)
from nnzoo.engine.fit import Loop, fit, resume
from nnzoo.errors import NnzooError
from tests.engine.test_fit import new_model, synthetic_splits, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def saved(tmp_path):
    """A checkpoint written by a short fit (so the optimizer has state), and its loop."""
    splits = synthetic_splits(32)
    config = tiny_config(epochs=2, early_stopping=5).replace(
        model=ModelConfig(cell="gru", hidden=4, layers=1)
    )
    from nnzoo.engine.callbacks import EarlyStopping

    loop = fit(
        new_model(config), splits.train, splits.val, config,
        callbacks=[EarlyStopping(patience=5)], extra={"class_names": ["a", "b"]},
    )  # fmt: skip
    path = tmp_path / "run" / "last.pt"
    path.parent.mkdir()
    save_checkpoint(path, loop)
    return path, loop


def test_checkpoint_holds_everything_and_loads_without_unpickling_objects(saved):
    path, loop = saved
    raw = torch.load(path, weights_only=True)  # the restricted unpickler reads all of it
    assert raw["format"] == FORMAT
    assert raw["epoch"] == 2 and raw["step"] == loop.step == 4
    assert raw["history"] == loop.history
    assert raw["extra"] == {"class_names": ["a", "b"]}
    assert raw["callbacks"] == {"EarlyStopping": loop.callbacks[0].state_dict()}
    assert isinstance(raw["config"], str)
    for key, value in loop.model.state_dict().items():
        assert torch.equal(raw["model"][key], value), key
    assert raw["optimizer"]["state"]  # Adam moments are stored

    ckpt = load_checkpoint(path)
    assert ckpt["run_config"] == loop.run_config
    assert config_of(path) == loop.run_config


def test_resume_restores_model_optimizer_and_counters(saved):
    path, loop = saved
    model = new_model(loop.run_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=loop.config.lr)
    fresh = Loop(model, optimizer, loop.run_config, [], loop.batches_per_epoch)
    resume(fresh, path)
    assert (fresh.epoch, fresh.step, fresh.history) == (loop.epoch, loop.step, loop.history)
    for key, value in loop.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    ours, theirs = optimizer.state_dict()["state"], loop.optimizer.state_dict()["state"]
    assert ours.keys() == theirs.keys()
    for index in ours:
        for name, value in theirs[index].items():
            assert torch.equal(ours[index][name], value), (index, name)


def test_resume_refuses_a_checkpoint_of_another_config(saved):
    path, loop = saved
    other = loop.run_config.replace(model=ModelConfig(cell="gru", hidden=4, layers=1, dropout=0.1))
    model = new_model(other)
    fresh = Loop(model, torch.optim.Adam(model.parameters()), other, [], 1)
    with pytest.raises(CheckpointError, match="different config") as info:
        resume(fresh, path)
    assert str(path) in str(info.value)


def expect_error(path, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert isinstance(info.value, NnzooError)


def test_truncated_checkpoint(saved):
    path, _ = saved
    data = path.read_bytes()
    for size in (len(data) // 2, len(data) - 10, 100):
        path.write_bytes(data[:size])
        expect_error(path, "truncated or corrupt")


def test_random_bytes_and_empty_file(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096))
    expect_error(path, "truncated or corrupt")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    expect_error(empty, "truncated or corrupt")


@pytest.mark.parametrize(
    "content",
    [{"model": {}, "epoch": 3}, {"format": "something-else"}, [1, 2, 3], torch.zeros(3)],
    ids=["dict", "wrong-format", "list", "tensor"],
)
def test_not_an_nnzoo_checkpoint(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    expect_error(path, "not an nnzoo checkpoint")


def test_missing_file_and_folder(tmp_path):
    expect_error(tmp_path / "nowhere.pt", "no such checkpoint")
    expect_error(tmp_path, "no such checkpoint")


class Payload:
    """A pickle that would create a file when unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "config": RunConfig().to_toml(), "x": Payload(marker)}, path)
    assert not marker.exists()
    expect_error(path, "truncated or corrupt")
    assert not marker.exists()


def test_atomic_save_leaves_no_temporary_files(tmp_path, saved):
    _, loop = saved
    target = tmp_path / "ckpt" / "last.pt"
    target.parent.mkdir()
    for _ in range(3):
        save_checkpoint(target, loop)
    assert [p.name for p in target.parent.iterdir()] == ["last.pt"]
    assert load_checkpoint(target)["epoch"] == 2


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x.pt"
    atomic_save({"a": 1}, path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017  torch.save cannot pickle a lambda
        atomic_save({"a": lambda: 0}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_a_config_that_no_longer_parses_is_reported(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "config": "[model]\nwidth = 3\n"}, path)
    with pytest.raises(NnzooError, match="width") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
