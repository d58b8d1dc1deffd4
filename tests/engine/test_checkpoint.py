"""Checkpoints: bad files are CheckpointErrors naming the path; nothing needs unpickling."""

import os
import re

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig
from nnzoo.engine.checkpoint import (
    FORMAT,
    CheckpointError,
    atomic_save,
    config_of,
    digest,
    load_checkpoint,
    load_weights,
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


def test_resume_refuses_optimizer_and_callback_state_that_does_not_fit(saved):
    path, loop = saved
    # an optimizer over fewer parameters than the checkpoint's (a model changed by hand)
    model = new_model(loop.run_config)
    partial = torch.optim.Adam(list(model.parameters())[:1])
    fresh = Loop(model, partial, loop.run_config, [], loop.batches_per_epoch)
    with pytest.raises(CheckpointError, match="optimizer's state does not fit") as info:
        resume(fresh, path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)

    class Picky:  # a callback whose stored state it cannot take
        def load_state_dict(self, state):
            raise KeyError("best")

    Picky.__name__ = "EarlyStopping"
    model = new_model(loop.run_config)
    fresh = Loop(model, torch.optim.Adam(model.parameters()), loop.run_config, [Picky()], 1)
    with pytest.raises(CheckpointError, match="EarlyStopping callback does not fit"):
        resume(fresh, path)


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


def test_a_config_that_no_longer_parses_is_reported(saved, tmp_path):
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    raw["config"] = "[model]\nwidth = 3\n"
    del raw["digest"]  # as an older nnzoo wrote it
    old = tmp_path / "old.pt"
    torch.save(raw, old)
    with pytest.raises(NnzooError, match="width") as info:
        load_checkpoint(old)
    assert str(old) in str(info.value)


# -- the digest ---------------------------------------------------------------------------------
def tensor_offset(data: bytes, tensor: torch.Tensor) -> int:
    """Where ``tensor``'s bytes lie in the checkpoint file (torch stores them uncompressed)."""
    offset = data.find(tensor.contiguous().numpy().tobytes())
    assert offset > 0 and data.count(tensor.numpy().tobytes()) == 1
    return offset


def test_a_flipped_byte_in_the_weights_is_refused(saved):
    path, loop = saved
    data = path.read_bytes()
    weight = next(v for v in loop.model.state_dict().values() if v.numel() >= 8)
    offset = tensor_offset(data, weight)
    for at in (offset, offset + weight.numel() * weight.element_size() // 2):
        flipped = bytearray(data)
        flipped[at] ^= 0x01
        path.write_bytes(bytes(flipped))
        expect_error(path, "do not match the digest")
    path.write_bytes(data)
    assert load_checkpoint(path)["verified"] is True


def test_the_digest_covers_every_tensor_and_value(saved):
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    stored = raw["digest"]
    assert stored.startswith("sha256:") and len(stored) == len("sha256:") + 64
    assert digest(raw) == stored
    reordered = dict(reversed(list(raw.items())))  # key order does not matter
    assert digest(reordered) == stored
    changes = {
        "a weight's value": lambda c: c["model"][next(iter(c["model"]))].view(-1)[0].add_(1),
        "a weight's dtype": lambda c: c["model"].update(
            {k: v.double() for k, v in list(c["model"].items())[:1]}
        ),
        "a weight's shape": lambda c: c["model"].update(
            {k: v.reshape(-1, 1) for k, v in list(c["model"].items())[:1]}
        ),
        "an optimizer moment": lambda c: (
            next(iter(c["optimizer"]["state"].values()))["exp_avg"].view(-1)[0].mul_(2)
        ),
        "the epoch": lambda c: c.update(epoch=c["epoch"] + 1),
        "the history": lambda c: c["history"][0].update(loss=c["history"][0]["loss"] + 1e-9),
        "the config": lambda c: c.update(config=c["config"] + "\n"),
        "a list to a tuple": lambda c: c["extra"].update(class_names=("a", "b")),
    }
    for what, change in changes.items():
        copy = torch.load(path, weights_only=True)
        change(copy)
        assert digest(copy) != stored, what


def test_a_checkpoint_from_before_the_digest_loads_unverified(saved, tmp_path):
    path, loop = saved
    raw = torch.load(path, weights_only=True)
    del raw["digest"]
    old = tmp_path / "old.pt"
    torch.save(raw, old)
    ckpt = load_checkpoint(old)
    assert ckpt["verified"] is False
    for key, value in loop.model.state_dict().items():
        assert torch.equal(ckpt["model"][key], value), key
    del raw["extra"]  # older still: no extra either
    torch.save(raw, old)
    assert load_checkpoint(old)["extra"] == {}


# -- the structure ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c.pop("config"), "no 'config'"),
        (lambda c: c.pop("model"), "no 'model'"),
        (lambda c: c.pop("callbacks"), "no 'callbacks'"),
        (lambda c: c.update(epoch="2"), "'epoch' is not an integer"),
        (lambda c: c.update(step=True), "'step' is not an integer"),
        (lambda c: c.update(epoch=-1), "negative"),
        (lambda c: c.update(extra=[1]), "'extra' is not a table"),
        (lambda c: c.update(history={}), "'history' is not a list"),
        (lambda c: c.update(history=[1, 2]), "'history' is not a list of tables"),
        (lambda c: c["model"].update(w=[1.0]), "'model' is not a table of named tensors"),
        (lambda c: c.update(optimizer={"state": {}}), "'optimizer' is not"),
        (lambda c: c.update(callbacks={"EarlyStopping": 3}), "'callbacks' is not a table of"),
        (lambda c: c.update(stop_reason=None), "'stop_reason' is not text"),
        (lambda c: c.update(secret_payload=1), "a key nnzoo never writes"),
        (lambda c: c.update(digest="md5:00"), "'digest' is not a sha256 digest"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_checkpoint_missing_a_key_or_of_a_wrong_type_is_refused(saved, change, match):
    path, _ = saved
    raw = torch.load(path, weights_only=True)
    change(raw)
    if "digest" in raw and not raw["digest"].startswith("md5"):
        raw["digest"] = digest(raw)  # consistent, so the structure check is what refuses
    torch.save(raw, path)
    expect_error(path, match)
    assert "secret_payload" not in str(load_error(path))  # no key of the file is echoed


def load_error(path):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    return info.value


def test_torch_advice_never_reaches_the_message(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "x": Payload(marker)}, path)
    message = str(load_error(path))
    assert "weights_only" not in message and "torch.load" not in message
    assert "open" not in message.replace(str(path), "")  # the global the file names
    assert "not an nnzoo checkpoint" in message and "point at another checkpoint" in message


# -- weights into a model -----------------------------------------------------------------------
def test_wrong_shaped_weights_name_the_first_parameter_and_both_shapes(saved, tmp_path):
    path, loop = saved
    wider = new_model(loop.run_config.replace(model=ModelConfig(cell="gru", hidden=5, layers=1)))
    state = load_checkpoint(path)["model"]
    name = next(iter(wider.state_dict()))  # the model's first parameter
    theirs, ours = list(state[name].shape), list(wider.state_dict()[name].shape)
    assert theirs != ours
    with pytest.raises(CheckpointError) as info:
        load_weights(wider, state, path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert f"{name} is {theirs} in the checkpoint, {ours} in the model" in message


def test_missing_and_unexpected_weights_are_one_line(saved):
    path, loop = saved
    model = new_model(loop.run_config)
    state = dict(load_checkpoint(path)["model"])
    first = next(iter(state))
    with pytest.raises(CheckpointError, match=f"no {re.escape(first)}") as info:
        load_weights(model, {k: v for k, v in state.items() if k != first}, path)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="1 of its tensors are not parameters") as info:
        load_weights(model, {**state, "not.a.parameter": torch.zeros(1)}, path)
    assert "not.a.parameter" not in str(info.value)
    load_weights(model, state, path)  # a checkpoint that fits loads exactly
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value)
