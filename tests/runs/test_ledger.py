"""The ledger keeps a finished run's results and history under its config, and gives them
back only for exactly that config."""

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
