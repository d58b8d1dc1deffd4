"""The `nnzoo` command: one line and exit status 2 for every error a user can cause."""

import dataclasses
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from nnzoo.cli import build_parser, main, values_from
from nnzoo.config import (
    SECTIONS,
    RunConfig,
    field_default,
    field_docs,
    field_range,
    load_config,
    parse_value,
)
from nnzoo.data import load_dataset
from nnzoo.data.sequences import save_sequences_npz
from nnzoo.models.summary import count_parameters
from nnzoo.runs.trained import load_trained
from tests.test_config import changed


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnzoo: error:"), err
    assert "Traceback" not in err
    return lines[0]


def toy_npz(path, n=48, seed=0, T=10):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, T, 3)).astype(np.float32) * 2 + 1
    y = (x[:, :, 0].mean(1) > 1).astype(np.int64)
    lengths = g.integers(3, T + 1, size=n)
    save_sequences_npz(path, x, y, lengths=lengths, class_names=["low", "high"])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run trained through the CLI: (run folder, train file, test file)."""
    base = tmp_path_factory.mktemp("cli")
    train, test = toy_npz(base / "train.npz"), toy_npz(base / "test.npz", n=20, seed=1)
    argv = ["train", "--data", "sequences", "--data-path", str(train), "--hidden", "6",
            "--cell", "gru", "--epochs", "2", "--batch-size", "16", "--quiet",
            "--test-path", str(test), "--out", str(base / "run")]  # fmt: skip
    assert main(argv) == 0
    return base / "run", train, test


def test_list_names_cells_models_and_datasets(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "larnn" in out and "sequence-classifier" in out and "uci-har" in out
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert {"kfold", "group-kfold", "stratified", "group"} <= set(lines["splits"].split(", "))
    assert lines["tasks"] == "classify, next-step, seq2seq"


def test_data_list_marks_generated_datasets(capsys, tmp_path):
    from nnzoo.data import DOWNLOADS, GENERATED, list_datasets
    from nnzoo.data.registry import FOLDERS

    (tmp_path / "uci-har").mkdir()
    code, out, _ = run(capsys, "data", "list", "--data-root", str(tmp_path))
    assert code == 0
    lines = {line.split()[0]: line.split() for line in out.splitlines()}
    assert set(lines) == set(list_datasets())
    assert {"first-symbol", "adding"} <= GENERATED
    for name in GENERATED:
        assert lines[name] == [name, "generated", "no", "file", "needed", "-"]
    assert lines["uci-har"][1:3] == ["present", "downloadable"]
    assert lines["uci-har"][-1] == str(tmp_path / "uci-har")
    for name in set(list_datasets()) - GENERATED - {"uci-har"}:
        where = tmp_path / FOLDERS.get(name, name)  # dogs-vs-cats: dogs-vs-cats-subset/train
        assert lines[name][1] == "absent" and lines[name][-1] == str(where)
        assert ("downloadable" in lines[name]) == (name in DOWNLOADS)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", "--epochs", "many"], "invalid int value"),
        (["train", "--no-such-flag"], "--no-such-flag"),
        (["frobnicate"], "invalid choice"),
        (["train", "--set", "model.hiden=3"], "'hiden'"),
        (["train", "--cell", "nope"], "unknown cell 'nope'"),
        (["train", "--optimizer", "adagrad"], "train.optimizer='adagrad'"),
        (["reproduce", "larnn-har", "--models", "transformer"], "'transformer'"),
        (["reproduce", "no-such-table"], "unknown recipe"),
        (["evaluate", "/no/such/run"], "/no/such/run"),
        (["data", "download"], "expected a dataset name"),
    ],
)
def test_user_errors_are_one_line_with_status_2(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.setenv("NNZOO_DATA", str(tmp_path))  # an empty data root
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert needle in one_line_error(code, err)


def test_missing_data_names_the_folder_and_what_to_do(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--data-root", str(tmp_path / "empty"))
    line = one_line_error(code, err)
    assert str(tmp_path / "empty" / "uci-har") in line and "nnzoo data download uci-har" in line
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.pt"))


def test_a_broken_config_file_is_named(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\ncell = 'lstm'\n")
    code, _, err = run(capsys, "train", str(bad))
    assert str(bad) in one_line_error(code, err)


def test_no_traceback_from_the_installed_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nnzoo", "train", "--data-root", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_train_writes_a_complete_run_folder(trained):
    run_dir, _, _ = trained
    for name in ("config.toml", "metrics.jsonl", "metrics.csv", "results.json", "report.md",
                 "checkpoints/best.pt", "checkpoints/last.pt", "plots/curves.png",
                 "plots/confusion.png"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2]
    assert "![loss and accuracy](plots/curves.png)" in (run_dir / "report.md").read_text()


def test_evaluate_agrees_with_the_model_on_the_test_split(trained, capsys):
    run_dir, train, test = trained
    code, out, _ = run(capsys, "evaluate", str(run_dir))
    assert code == 0
    model, _, _ = load_trained(str(run_dir))
    splits = load_dataset("sequences", path=train, test_path=str(test))
    with torch.no_grad():
        pred = model(splits.test.x, splits.test.lengths).argmax(-1)
    expected = (pred == splits.test.y).double().mean().item()
    assert f"test accuracy {expected:.4f}" in out
    saved = json.loads((run_dir / "evaluation" / "test.json").read_text())
    assert saved["accuracy"] == pytest.approx(expected)
    assert sum(map(sum, saved["confusion"])) == len(splits.test)
    assert (run_dir / "evaluation" / "confusion-test.png").is_file()


def test_predict_standardises_raw_input_like_the_training_data(trained, capsys, tmp_path):
    run_dir, train, test = trained
    out_csv = tmp_path / "pred.csv"
    code, _, _ = run(capsys, "predict", str(run_dir), str(test), "--output", str(out_csv))
    assert code == 0
    rows = out_csv.read_text().strip().splitlines()
    assert rows[0] == "sequence,class,probability" and len(rows) == 1 + 20
    model, _, _ = load_trained(str(run_dir))
    splits = load_dataset("sequences", path=train, test_path=str(test))  # standardised
    with torch.no_grad():
        probs = model(splits.test.x, splits.test.lengths).softmax(-1)
    for row, p in zip(rows[1:], probs):
        _, name, prob = row.split(",")
        assert name == ["low", "high"][int(p.argmax())]
        assert float(prob) == pytest.approx(float(p.max()), abs=1e-5)


def test_summary_totals_match_the_model(trained, capsys):
    run_dir, _, _ = trained
    code, out, _ = run(capsys, "summary", str(run_dir))
    assert code == 0
    model, _, _ = load_trained(str(run_dir))
    assert f"{count_parameters(model):,}" in out or str(count_parameters(model)) in out


def test_a_corrupt_checkpoint_is_one_line_and_left_alone(trained, capsys, tmp_path):
    run_dir, _, _ = trained
    bad = tmp_path / "bad.pt"
    bad.write_bytes((run_dir / "checkpoints" / "best.pt").read_bytes()[:500])
    before = bad.read_bytes()
    code, _, err = run(capsys, "evaluate", str(bad))
    assert str(bad) in one_line_error(code, err)
    assert bad.read_bytes() == before


def test_a_run_folder_with_another_config_is_not_overwritten(trained, capsys):
    run_dir, train, _ = trained
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()
    argv = ["train", "--data", "sequences", "--data-path", str(train), "--hidden", "7",
            "--epochs", "1", "--quiet", "--out", str(run_dir)]  # fmt: skip
    code, _, err = run(capsys, *argv)
    assert "different config" in one_line_error(code, err)
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before


def test_predict_reads_an_unlabelled_csv_like_the_npz(trained, capsys, tmp_path):
    run_dir, _, test = trained
    data = np.load(test)
    lines = ["sequence,time,a,b,c"]
    for i in (3, 7):
        for t in range(int(data["lengths"][i])):
            lines.append(f"s{i},{t}," + ",".join(f"{v:.9g}" for v in data["X"][i, t]))
    csv_path = tmp_path / "new.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    code, out_csv, _ = run(capsys, "predict", str(run_dir), str(csv_path))
    code_npz, out_npz, _ = run(capsys, "predict", str(run_dir), str(test))
    assert code == code_npz == 0
    from_csv = out_csv.strip().splitlines()[1:]
    from_npz = out_npz.strip().splitlines()[1:]
    for row, i in zip(from_csv, (3, 7)):
        name, cls, prob = row.split(",")
        _, cls_npz, prob_npz = from_npz[i].split(",")
        assert name == f"s{i}" and cls == cls_npz
        assert float(prob) == pytest.approx(float(prob_npz), abs=1e-5)


def test_predict_rejects_the_wrong_number_of_features(trained, capsys, tmp_path):
    run_dir, _, _ = trained
    path = tmp_path / "wide.npz"
    np.savez(path, X=np.zeros((2, 5, 4), dtype=np.float32))
    code, _, err = run(capsys, "predict", str(run_dir), str(path))
    assert "4 features; the model expects 3" in one_line_error(code, err)


def test_evaluating_a_loose_checkpoint_writes_beside_it(trained, capsys, tmp_path):
    run_dir, _, _ = trained
    loose = tmp_path / "model.pt"
    loose.write_bytes((run_dir / "checkpoints" / "best.pt").read_bytes())
    code, _, _ = run(capsys, "evaluate", str(loose))
    assert code == 0
    assert (tmp_path / "model-evaluation" / "test.json").is_file()


def test_summary_of_image_models(capsys, tmp_path):
    code, out, _ = run(capsys, "summary", "--set", "model.name=deeper")
    assert code == 0 and "Total params: 1,475,338" in out
    config = tmp_path / "vgg.toml"
    config.write_text('[model]\nname = "vgg"\n[model.options]\nblocks = [1]\nwidth = 4\nhead = 0\n')
    code, out, _ = run(capsys, "summary", str(config), "--input-shape", "3,8,8")
    assert code == 0 and "vgg: blocks [1], width 4, head 0" in out
    assert f"Total params: {9 * 3 * 4 + 4 + 8 + 4 * 4 * 4 * 10 + 10:,}" in out
    code, _, err = run(capsys, "summary", str(config), "--input-shape", "1,1")
    assert "too small for 1 blocks of model 'vgg'" in one_line_error(code, err)


# -- flags made from the config dataclasses ---------------------------------------------------
OLD_FLAGS = [
    "cell", "hidden", "layers", "dropout", "projection", "readout", "model", "bidirectional",
    "residual", "data", "data-path", "epochs", "batch-size", "optimizer", "lr", "momentum",
    "weight-decay", "seed", "lr-step-every", "lr-step-factor", "plateau-patience",
    "early-stopping", "monitor", "clip-norm", "clip-value", "device", "threads", "tensorboard",
]  # fmt: skip
RENAMED = {"data.name": "data", "data.path": "data-path", "model.name": "model"}


def config_fields(sections=("data", "model", "train")):
    """(config path, flag, default) of every field that is not a table."""
    for section in sections:
        for f in dataclasses.fields(SECTIONS[section]):
            default = field_default(f)
            if not isinstance(default, dict):
                path = f"{section}.{f.name}"
                yield path, "--" + RENAMED.get(path, f.name.replace("_", "-")), default


def help_blocks(capsys, monkeypatch, command):
    """``{flag: its help text}`` from ``nnzoo COMMAND --help``, unwrapped."""
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    # an option's lines: "  --flag METAVAR  help" and its help continued, indented further
    lines = [line for line in text.splitlines() if re.match(r"  -| {6}", line)]
    out = {}
    for block in re.split(r"\n(?=  -)", "\n".join(lines)):
        flags, _, help_text = block.strip().partition("  ")
        for flag in re.findall(r"--[\w-]+", flags):
            out[flag] = " ".join(help_text.split())
    return out, text


@pytest.mark.parametrize("command, sections", [("train", ("data", "model", "train")),
                                               ("summary", ("model",))])  # fmt: skip
def test_every_field_has_a_flag_with_its_documentation_and_default(
    capsys, monkeypatch, command, sections
):
    blocks, _ = help_blocks(capsys, monkeypatch, command)
    for path, flag, default in config_fields(sections):
        section, name = path.split(".")
        doc = field_docs(SECTIONS[section])[name].rstrip(".")
        text = blocks[flag]
        assert text.startswith(doc), (flag, text)
        shown, _, accepts = re.fullmatch(r".*\(default: (.*)\)", text).group(1).partition("; ")
        assert parse_value(shown) == default, (flag, shown, default)
        rule = field_range(SECTIONS[section], name)  # the range the config check applies
        assert accepts == (rule.describe(isinstance(default, int)) if rule else ""), flag
        assert type(parse_value(shown)) is type(default), (flag, shown)


def test_the_flags_of_before_still_exist(capsys, monkeypatch):
    blocks, _ = help_blocks(capsys, monkeypatch, "train")
    for flag in [*OLD_FLAGS, "cell-option", "set", "test-path"]:
        assert f"--{flag}" in blocks, flag


def test_train_help_shows_the_defaults_and_the_test_split_of_ones_own_data(capsys, monkeypatch):
    blocks, text = help_blocks(capsys, monkeypatch, "train")
    assert blocks["--batch-size"].endswith("(default: 32; an integer >= 1 and < 2**31)")
    assert blocks["--epochs"].endswith("(default: 30; an integer >= 1 and <= 1000000)")
    assert blocks["--lr"].endswith("(default: 0.001; a finite number > 0)")
    assert "data.options.test_path" in blocks["--test-path"]
    assert "--data sequences --data-path train.npz --test-path test.npz" in text


def config_of(argv, path=None):
    args = build_parser().parse_args(["train", *argv])
    return load_config(path, values=values_from(args))


def test_unset_flags_change_nothing_and_each_flag_sets_its_field(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[data]\npath = "a.npz"\n[model]\nresidual = true\nhidden = 7\n'
        "[train]\nlr = 0.5\nepochs = 4\ntensorboard = true\n"
    )
    from_file = load_config(path)
    assert config_of([], path) == from_file and config_of([]) == RunConfig()
    for config_path, flag, default in config_fields():
        section, name = config_path.split(".")
        old = getattr(getattr(from_file, section), name)
        if isinstance(default, bool):
            value, argv = not old, [flag if not old else "--no-" + flag[2:]]
        else:
            value = changed(old)
            argv = [flag, str(value)]
        config = config_of(argv, path)
        expected = from_file.replace(
            **{section: dataclasses.replace(getattr(from_file, section), **{name: value})}
        )
        assert config == expected, argv


def test_test_path_cell_options_and_set_reach_the_tables():
    config = config_of(["--test-path", "test.npz", "--cell-option", "window=38",
                        "--set", "data.options.val_fraction=0.1", "--set", "model.hidden=9",
                        "--hidden", "8"])  # fmt: skip
    assert config.data.options == {"test_path": "test.npz", "val_fraction": 0.1}
    assert config.model.options["cell_options"] == {"window": 38}
    assert config.model.options["hidden"] == 9  # --set applies after the flags, as it always did
    by_set = config_of(["--set", "data.options.test_path='t.csv'"])
    assert config_of(["--test-path", "t.csv"]) == by_set
