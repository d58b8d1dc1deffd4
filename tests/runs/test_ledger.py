"""The ledger keeps a finished run's results and history under its config, and gives them
back only for exactly that config."""

import contextlib
import json

import pytest

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.runs.ledger import Ledger, LedgerError


def config(**train):
    return RunConfig(model=ModelConfig(cell="gru", hidden=8), train=TrainConfig(**train))


def test_a_kept_run_comes_back_for_its_config_only(tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    results = {"test": {"accuracy": 0.75}, "selected_epoch": 2, "epochs_run": 3}
    history = [{"epoch": 1, "loss": 1.5}, {"epoch": 2, "loss": 1.25}, {"epoch": 3, "loss": 1.0}]
    path = ledger.put("gru-s0", config(seed=0, epochs=3), results, history)
    assert path == tmp_path / "ledger" / "gru-s0.json"
    entry = ledger.get("gru-s0", config(seed=0, epochs=3))
    assert entry["results"] == results and entry["history"] == history
    assert {"command", "machine", "torch", "date"} <= set(entry["provenance"])
    assert ledger.get("gru-s0", config(seed=1, epochs=3)) is None  # another config
    assert ledger.get("gru-s1", config(seed=0, epochs=3)) is None  # no such entry
    # the config is kept as config.toml text, readable by itself
    assert 'cell = "gru"' in json.loads(path.read_text())["config"]


def test_how_a_run_was_executed_does_not_make_it_another_run(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.put("run", config(seed=0, device="auto", threads=4, checkpoint_every=5), {}, [])
    assert ledger.get("run", config(seed=0)) is not None  # cpu, default threads
    assert ledger.get("run", config(seed=0, device="cuda:1", tensorboard=True)) is not None
    assert ledger.get("run", config(seed=0, precision="bf16")) is None  # other numbers
    assert ledger.get("run", config(seed=0, batch_size=64)) is None


EMPTY = {"config": "", "results": {}, "history": [], "provenance": {}}


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"config": ', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"config": "x", "results": {}}', r"not a ledger entry \(no history, provenance\)"),
        (json.dumps({**EMPTY, "config": 3}), "config is not TOML text"),
        (json.dumps({**EMPTY, "config": "[model\nhidden = "}), "not valid TOML"),
    ],
)
def test_a_damaged_entry_fails_in_one_line_naming_it(tmp_path, content, match):
    ledger = Ledger(tmp_path)
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(LedgerError, match=match) as e:
        ledger.get("run", config())
    assert "run.json" in str(e.value) and "delete it" in str(e.value)
    assert "\n" not in str(e.value)


def trained(tmp_path, name, epochs, seed=0, killed_in=None):
    """A real run folder of a tiny GRU; ``killed_in``: killed at the end of that epoch, before
    its checkpoint (unfinished: its last checkpoint is the epoch before)."""
    from nnzoo.engine.callbacks.base import Callback
    from nnzoo.runs.train import train_run
    from tests.engine.test_fit import synthetic_splits, tiny_config

    class Kill(Callback):
        def on_epoch_end(self, loop, logs):
            if loop.epoch == killed_in:
                raise KeyboardInterrupt

    cfg = tiny_config(epochs=epochs, seed=seed)
    with pytest.raises(KeyboardInterrupt) if killed_in else contextlib.nullcontext():
        train_run(cfg, tmp_path / name, splits=synthetic_splits(32), progress=False,
                  extra_callbacks=[Kill()])  # fmt: skip
    return cfg, tmp_path / name


def test_a_parked_run_goes_back_only_where_it_is_further_on_and_the_same_run(tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    cfg, run = trained(tmp_path, "a", epochs=4, killed_in=3)
    assert ledger.park("a", run) == 2
    parked = ledger.parked("a").path
    assert sorted(p.name for p in parked.rglob("*") if p.is_file()) == [
        "best.pt", "config.toml", "last.pt", "metrics.csv", "metrics.jsonl"]  # fmt: skip
    assert ledger.unpark("a", cfg, tmp_path / "empty") == 2  # a new machine: resume there
    assert (tmp_path / "empty" / "checkpoints" / "last.pt").read_bytes() == (
        run / "checkpoints" / "last.pt").read_bytes()  # fmt: skip
    other, _ = trained(tmp_path, "b", epochs=4, seed=1, killed_in=2)
    assert ledger.unpark("a", other, tmp_path / "c") is None  # another run: start over
    _, further = trained(tmp_path, "d", epochs=4, killed_in=4)
    assert ledger.unpark("a", cfg, further) is None  # this machine got further: keep its own
    _, finished = trained(tmp_path, "e", epochs=1)
    assert ledger.park("e", finished) is None  # a finished run goes to the ledger, not here
    (parked / "checkpoints" / "last.pt").write_bytes(b"cut")
    with pytest.raises(LedgerError, match="parked run that cannot be read.*delete"):
        ledger.unpark("a", cfg, tmp_path / "f")
    ledger.unpark_done("a")
    assert not parked.exists() and ledger.unpark("a", cfg, tmp_path / "g") is None
