"""Every command in the README's bash blocks runs as written, on tiny data in the original formats.

The commands run in order, in a folder with ``../shared/data`` beside it holding a tiny UCI HAR
and Fashion-MNIST, as a user on a fresh checkout would run them (after the first two blocks: the
set-up and the test command, which tests/test_readme.py checks against .ci/run). Where a command
trains, ``SHRINK`` appends flags that shrink its budget to the tiny data (later flags win); the
run folders the README names by example (``runs/uci-har-larnn-s0-1a2b3c4d``) stand for the folder
the README's own train command made. Every command must be listed in ``SHRINK``: a new README
command cannot go untested.
"""

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnzoo.cli import main
from nnzoo.data.sequences import save_sequences_npz
from tests.data.test_catvnoncat import make_course
from tests.data.test_fashion_mnist import make_fashion
from tests.data.test_images import make_folder
from tests.data.test_music import jsb_value, write_abc, write_json
from tests.data.test_sentiment import write_uci
from tests.data.test_tatoeba import animal_pairs, spa_text, write_zip
from tests.data.test_uci_har import make_har
from tests.experiments.test_pima import write_pima
from tests.experiments.test_sonar import write_sonar
from tests.search.conftest import postgres_url  # noqa: F401 (a fixture)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
TINY_SEQ = ["--epochs", "1", "--hidden", "6", "--train-size", "24", "--val-size", "8",
            "--test-size", "12", "--batch-size", "8", "--threads", "1"]  # fmt: skip
SHRINK = {
    "nnzoo data list": [],
    "nnzoo data download uci-har": [],
    "nnzoo train --data uci-har --cell larnn --hidden 64 --layers 2 --epochs 100": [
        "--epochs",
        "1",
        "--set",
        "data.options.val_subjects=1",
    ],
    "nnzoo train my-config.toml --lr 0.001 --no-residual --cell-option window=38": [
        "--epochs",
        "1",
        "--set",
        "data.options.val_subjects=1",
    ],
    "nnzoo train --data sequences --data-path train.npz --test-path test.npz": ["--epochs", "1"],
    "nnzoo train --help": [],
    "nnzoo bench --data uci-har --cell larnn --hidden 64 --layers 2 --threads 1": [
        "--steps",
        "1",
        "--warmup",
        "0",
        "--hidden",
        "8",
        "--set",
        "data.options.val_subjects=1",
    ],
    "nnzoo train --data uci-har --cell gru --device auto --precision bf16 --epochs 5": [
        "--epochs",
        "1",
        "--hidden",
        "6",
        "--set",
        "data.options.val_subjects=1",
    ],
    "nnzoo evaluate runs/uci-har-larnn-s0-1a2b3c4d": [],
    "nnzoo predict runs/uci-har-larnn-s0-1a2b3c4d new.npz": [],
    "nnzoo summary --cell larnn --hidden 81 --layers 3 --cell-option num_heads=27": [],
    "nnzoo list": [],
    "nnzoo report runs/uci-har-larnn-s0-1a2b3c4d": [],
    "nnzoo report runs/a runs/b runs/c --out cmp/": [],
    "nnzoo study lr-sweep": ["--epochs", "1", "--lrs", "0.1"],
    "nnzoo study convergence": ["--epochs", "2", "--lrs", "0.1"],
    "nnzoo study capacity": ["--epochs", "1"],
    "nnzoo study grad-mean": ["--steps", "2", "--lrs", "0.1"],
    "nnzoo study gradient-flow": [
        "--task",
        "first-symbol",
        "--length",
        "10",
        "--cells",
        "elman",
        "--grad-batch",
        "12",
        *TINY_SEQ,
    ],
    "nnzoo study long-lag": ["--cells", "elman", "--lengths", "5", "--seeds", "0", *TINY_SEQ],
    "nnzoo study lr-sweep --help": [],
    "nnzoo train --data moons --model scratch-mlp --task classify --set task.options.binary=true "
    "--optimizer sgd --lr 0.3 --batch-size 300 --epochs 3000 --set train.checkpoint_every=500": [
        "--epochs",
        "5",
    ],
    "nnzoo train --data dogs-vs-cats --model efficientnet-lite0 --task classify "
    "--set task.options.binary=true --set data.options.size=224 --epochs 10 --monitor val_loss "
    "--early-stopping 3": ["--epochs", "1", "--set", "data.options.size=32"],
    "nnzoo predict runs/dogs-vs-cats-efficientnet-lite0-s0-1a2b3c4d cat.7.jpg": [],
    "nnzoo reproduce dogs-vs-cats": ["--quick"],
    "nnzoo reproduce catvnoncat": ["--quick"],
    "nnzoo study init": ["--quick"],
    "nnzoo study regularization": ["--quick"],
    "nnzoo study activations": [],
    "nnzoo train --data uci-sentiment --set 'data.options.domain=\"yelp\"' --task classify "
    "--set task.options.binary=true --cell lstm --hidden 64 --layers 1 "
    "--set model.options.embedding=64 --readout mean --monitor val_loss --early-stopping 8": [
        "--epochs",
        "1",
        "--set",
        "data.options.folds=4",
    ],
    'nnzoo predict runs/uci-sentiment-lstm-s0-1a2b3c4d "what a great phone"': [],
    "nnzoo reproduce sentiment": ["--quick", "--datasets", "yelp", "--models", "bow,lstm"],
    "nnzoo train --data tatoeba --set data.options.max_words=10 --task seq2seq --model seq2seq "
    "--cell gru --bidirectional --hidden 256 --layers 1 --set model.options.embedding=256 "
    "--set task.options.beam=4 --monitor val_loss --epochs 12": [
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--set",
        "model.options.embedding=8",
        "--set",
        "data.options.min_freq=1",
    ],
    'nnzoo translate runs/tatoeba-seq2seq-s0-1a2b3c4d "¿Dónde está la biblioteca?"': [],
    "nnzoo reproduce translation": ["--quick", "--models", "es-en-attention"],
    "nnzoo train --data jsb-chorales --model generator --task next-step "
    "--set 'task.options.kind=\"multi-hot\"' --cell gru --hidden 212 --layers 1 "
    "--set model.options.embedding=212 --batch-size 16 --monitor val_loss --early-stopping 20": [
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--set",
        "model.options.embedding=8",
    ],
    'nnzoo generate runs/jsb-chorales-generator-s0-1a2b3c4d --start "C4,E4,G4" --steps 64 '
    "--temperature 1.0 --seed 0": [],
    "nnzoo reproduce jsb-chorales": ["--quick", "--cells", "gru"],
    "nnzoo reproduce sonar": ["--quick"],
    "nnzoo reproduce pima": ["--quick"],
    "nnzoo search search.toml": [],
    "nnzoo search search.toml --focus-from runs/search-search --out runs/search-round2": [],
    "nnzoo search search.toml --storage sqlite:///study.db --create": [],
    "nnzoo search search.toml --storage sqlite:///study.db --worker --out runs/worker-1": [],
    'nnzoo search my-search.toml --storage "$DB" --create': [],
    'nnzoo search my-search.toml --storage "$DB" --worker --out runs/my-search': [],
    "nnzoo train --task seq2seq --data copy-reverse --model seq2seq --cell gru --hidden 64 "
    "--layers 1 --bidirectional --epochs 24 --lr 0.005 --lr-step-every 8 --lr-step-factor 0.3 "
    "--set data.options.max_length=5 --set data.options.symbols=5 "
    "--set data.options.train_size=2000 --monitor val_loss": [
        "--epochs",
        "1",
        "--set",
        "data.options.train_size=64",
    ],
    "nnzoo train --task next-step --set 'task.options.kind=\"multi-hot\"' --data cycles "
    "--set 'data.options.kind=\"multi-hot\"' --model generator --cell gru --monitor val_loss": [
        "--epochs",
        "1",
        "--set",
        "data.options.train_size=32",
    ],
}
# run folders the README names by example -> the folders its train commands make
EXAMPLE_RUNS = {
    "runs/uci-har-larnn-s0-1a2b3c4d": "uci-har-larnn-s0-*",
    "runs/dogs-vs-cats-efficientnet-lite0-s0-1a2b3c4d": "dogs-vs-cats-efficientnet-lite0-s0-*",
    "runs/uci-sentiment-lstm-s0-1a2b3c4d": "uci-sentiment-lstm-s0-*",
    "runs/tatoeba-seq2seq-s0-1a2b3c4d": "tatoeba-seq2seq-s0-*",
    "runs/jsb-chorales-generator-s0-1a2b3c4d": "jsb-chorales-generator-s0-*",
}
POSTGRES = ("$DB",)  # commands that need the PostgreSQL server (the second test)


def readme_commands() -> list[str]:
    """The nnzoo commands of every bash block after the first two, comments and line
    continuations removed, in the README's order."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)[2:]:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("nnzoo "):
                commands.append(" ".join(line.split()))
    return commands


def test_every_readme_command_is_listed():
    assert set(readme_commands()) == set(SHRINK)


def search_config(trials: int) -> str:
    """A tiny run config plus the README's [search] table, at ``trials`` trials."""
    block = re.search(r"```ini\n(.*?)```", README, flags=re.S).group(1)
    block = re.sub(r"(?m)^trials = \d+", f"trials = {trials}", block)
    run = ('[data]\nname = "sequences"\npath = "train.npz"\n'
           'options = { test_path = "test.npz" }\n\n[model]\ncell = "gru"\nhidden = 6\n\n'
           "[train]\nepochs = 1\nbatch_size = 16\n\n")  # fmt: skip
    return run + block


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working folder with ../shared/data beside it, the files the README's commands name."""
    data = tmp_path / "shared" / "data"
    make_har(data / "uci-har")
    make_fashion(data / "fashion-mnist", per_class=(12, 2))
    make_course(data / "catvnoncat", sizes=(10, 4))
    pets = data / "dogs-vs-cats-subset" / "train"
    make_folder(pets, per_class=10, ext="jpg")
    monkeypatch.setenv("NNZOO_CACHE", str(tmp_path / "cache"))  # decoded images: not in ~/.cache
    write_sonar(data / "sonar")
    write_pima(data / "pima-indians-diabetes")
    write_uci(data / "sentiment-labelled-sentences")
    (data / "spa-eng-tatoeba").mkdir()
    write_zip(data / "spa-eng-tatoeba" / "spa-eng.zip",
              {"spa-eng/spa.txt": spa_text(animal_pairs()).encode()})  # fmt: skip
    write_json(data / "jsb-chorales", jsb_value())
    write_abc(data / "nottingham-abc")
    work = tmp_path / "work"
    work.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train.npz", 48), ("test.npz", 16), ("new.npz", 4)):
        x = rng.normal(size=(n, 8, 9)).astype(np.float32)  # 9 features, as UCI HAR
        y = (x[:, :, 0].mean(1) > 0).astype(np.int64)
        save_sequences_npz(work / name, x, y, class_names=["low", "high"])
    toml = re.findall(r"```toml\n(.*?)```", README, flags=re.S)[1]  # the LARNN paper's setup
    (work / "my-config.toml").write_text(toml)
    (work / "search.toml").write_text(search_config(trials=3))
    (work / "my-search.toml").write_text(search_config(trials=2))
    shutil.copy(pets / "cat.7.jpg", work / "cat.7.jpg")  # the image the README predicts
    monkeypatch.chdir(work)
    monkeypatch.delenv("NNZOO_DATA", raising=False)
    return work


def run(command: str, substitutions: dict[str, str]) -> None:
    text = command
    for example, real in substitutions.items():
        text = text.replace(example, real)
    argv = shlex.split(text)[1:] + SHRINK[command]
    try:
        code = main(argv)
    except SystemExit as e:  # --help
        code = e.code
    assert code == 0, f"README command failed ({code}): {text}"


def run_folder(pattern: str) -> str:
    """The oldest run folder matching ``pattern``."""
    found = sorted(Path("runs").glob(pattern), key=lambda p: p.stat().st_mtime_ns)
    return str(found[0]) if found else ""


def test_the_readme_commands_run_in_order(workspace, monkeypatch, capsys, one_thread):
    export = re.search(r"(?m)^export NNZOO_DATA=(\S+)", README).group(1)
    monkeypatch.setenv("NNZOO_DATA", export)  # the README's export line
    substitutions: dict[str, str] = {}
    for command in readme_commands():
        if any(mark in command for mark in POSTGRES):
            continue
        if "runs/a runs/b runs/c" in command:
            substitutions["runs/a runs/b runs/c"] = " ".join(
                run_folder(p) for p in ("uci-har-larnn-s0-*", "sequences-*", "copy-reverse-*")
            )
        run(command, substitutions)
        for example, pattern in EXAMPLE_RUNS.items():
            if example not in substitutions and run_folder(pattern):
                # the README's train command made the folder its examples name
                substitutions[example] = run_folder(pattern)
    capsys.readouterr()
    assert Path("cmp").is_dir() and Path("runs/search-round2").is_dir()


def test_the_postgresql_commands_run(workspace, postgres_url, capsys, one_thread):  # noqa: F811
    for command in readme_commands():
        if any(mark in command for mark in POSTGRES):
            run(command, {'"$DB"': shlex.quote(postgres_url)})
    capsys.readouterr()
    assert Path("runs/my-search").is_dir()
