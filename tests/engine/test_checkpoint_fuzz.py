"""Fuzzing load_checkpoint: random files and real checkpoints with 1-8 bytes changed.

Every load either raises a one-line CheckpointError or returns exactly the tensors that were
saved (a change in bytes torch never reads); nothing else escapes, and no changed weight loads.
The seed is fixed, so a failure reproduces.
"""

import random
import warnings

import pytest
import torch

from nnzoo.config import ModelConfig
from nnzoo.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nnzoo.engine.fit import fit
from tests.engine.test_fit import new_model, synthetic_splits, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")

RANDOM, MUTATED = 200, 200


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny real checkpoint (a GRU of width 2, Adam state), its bytes and what it holds."""
    splits = synthetic_splits(16)
    config = tiny_config(epochs=1).replace(model=ModelConfig(cell="gru", hidden=2, layers=1))
    torch.set_num_threads(1)
    loop = fit(new_model(config), splits.train, splits.val, config, extra={"num_features": 3})
    path = tmp_path_factory.mktemp("fuzz") / "last.pt"
    save_checkpoint(path, loop)
    model = {k: v.clone() for k, v in loop.model.state_dict().items()}
    moments = {
        (i, k): v.clone()
        for i, state in loop.optimizer.state_dict()["state"].items()
        for k, v in state.items()
    }
    return path.read_bytes(), model, moments, loop.history


def random_file(rng: random.Random, size: int) -> bytes:
    """Random bytes; every other one starting as a zip archive does, to get past the first check."""
    body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 64, 512, size])))
    return b"PK\x03\x04" + body if rng.random() < 0.5 else body


def mutated(rng: random.Random, data: bytes) -> bytes:
    """``data`` with 1 to 8 bytes set to random values."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def test_no_exception_but_checkpoint_error_and_no_silently_changed_weights(checkpoint, tmp_path):
    data, model, moments, history = checkpoint
    assert len(data) < 16_000  # tiny, so hundreds of loads stay fast
    rng = random.Random(20240611)
    files = [random_file(rng, len(data)) for _ in range(RANDOM)]
    files += [mutated(rng, data) for _ in range(MUTATED)]
    escaped, changed, refused, loaded = [], [], 0, 0  # refused: of the random files
    for i, content in enumerate(files):
        path = tmp_path / f"{i}.pt"
        path.write_bytes(content)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ckpt = load_checkpoint(path)
        except CheckpointError as e:
            refused += i < RANDOM
            message = str(e)
            assert "\n" not in message and message.startswith(str(path)), message
            assert "weights_only" not in message, message
            continue
        except Exception as e:  # what the test counts
            escaped.append((i, type(e).__name__))
            continue
        loaded += 1
        same = ckpt["model"].keys() == model.keys() and all(
            torch.equal(ckpt["model"][k], v) and ckpt["model"][k].dtype == v.dtype
            for k, v in model.items()
        )
        state = ckpt["optimizer"]["state"]
        same = same and all(torch.equal(state[i][k], v) for (i, k), v in moments.items())
        if not (same and ckpt["history"] == history and ckpt["verified"]):
            changed.append(i)
    assert escaped == []
    assert changed == []
    assert refused == RANDOM  # no random file loads
    assert loaded >= 1  # some changes hit bytes torch never reads (the fuzzing is not vacuous)
