"""Behaviour parity: run a fixed set of nnzoo commands and dump every number they produce.

    python benchmarks/parity.py OUT_DIR [--data-root ../shared/data]

Runs, in OUT_DIR: ``nnzoo train`` for a recurrent model (larnn and gru on first-symbol) and
an image model (mlp on Fashion-MNIST, one epoch), the quick LARNN reproduction, two studies
(lr-sweep, gradient-flow) and a small TPE search, then writes OUT_DIR/numbers.json: every
metric of every run (history, selected epoch, test metrics) and every study / search row, with
times, paths and provenance left out. Run it at two commits on one machine and diff the two
numbers.json files: an empty diff means the change kept behaviour.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DROP = {
    "storage",
    "seconds",
    "seconds_per_epoch",
    "provenance",
    "run_dir",
    "run",
    "duration",
    "command",
    "source",
    "data_root",
    "out",
    "results",
    "runs",
    "argv",
    "date",
    "started",
    "path",
}


def clean(value):
    """``value`` without the keys that name times, paths or machines."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in sorted(value.items()) if k not in DROP}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def nnzoo(*argv: str) -> None:
    print("+ nnzoo", " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "nnzoo", *argv], check=True)


def history(path: Path) -> list[dict]:
    return [clean(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def run_numbers(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    keep = ("test", "final_epoch_test", "selected_epoch", "selected_val", "epochs_run", "params")
    return {
        "history": history(run_dir / "metrics.jsonl"),
        **{k: clean(results[k]) for k in keep if k in results},
    }


SEARCH = """
[data]
name = "first-symbol"
options = { length = 6, train_size = 96, val_size = 48, test_size = 48 }
[model]
cell = "gru"
hidden = 6
layers = 1
[train]
epochs = 2
batch_size = 16
[search]
trials = 4
sampler = "tpe"
seed = 0
[search.space]
"train.lr" = { log_uniform = [0.001, 0.1] }
"model.hidden" = { int = [3, 8] }
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--data-root", default="../shared/data")
    args = p.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = ["--data-root", args.data_root]
    small = [
        "--data",
        "first-symbol",
        "--set",
        "data.options.length=12",
        "--set",
        "data.options.train_size=256",
        "--set",
        "data.options.val_size=64",
        "--set",
        "data.options.test_size=64",
        "--batch-size",
        "32",
        "--quiet",
    ]
    nnzoo(
        "train",
        *small,
        "--cell",
        "larnn",
        "--hidden",
        "8",
        "--layers",
        "2",
        "--epochs",
        "3",
        "--set",
        "model.cell_options.window=4",
        "--set",
        "model.cell_options.num_heads=2",
        "--out",
        str(out / "train-larnn"),
    )
    nnzoo(
        "train",
        *small,
        "--cell",
        "gru",
        "--hidden",
        "8",
        "--epochs",
        "4",
        "--dropout",
        "0.1",
        "--out",
        str(out / "train-gru"),
    )
    nnzoo(
        "train",
        "--data",
        "fashion-mnist",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--quiet",
        *root,
        "--out",
        str(out / "train-mlp"),
    )
    nnzoo(
        "reproduce",
        "larnn-har",
        "--quick",
        *root,
        "--out",
        str(out / "quick"),
        "--runs",
        str(out / "quick-runs"),
    )
    nnzoo(
        "study",
        "lr-sweep",
        "--lrs",
        "0.1,0.01",
        "--epochs",
        "1",
        *root,
        "--out",
        str(out / "lr-sweep"),
    )
    nnzoo(
        "study",
        "gradient-flow",
        "--cells",
        "elman,lstm",
        "--length",
        "20",
        "--epochs",
        "2",
        "--train-size",
        "128",
        *root,
        "--out",
        str(out / "gradient-flow"),
    )
    (out / "search.toml").write_text(SEARCH)
    nnzoo("search", str(out / "search.toml"), "--out", str(out / "search"))

    numbers = {}
    for results in sorted(out.rglob("results.json")):
        numbers[str(results.parent.relative_to(out))] = run_numbers(results.parent)
    for name in ("lr-sweep", "gradient-flow"):
        record = json.loads((out / name / "study.json").read_text())
        numbers[name] = clean({k: v for k, v in record.items() if k not in ("options",)})
    quick = json.loads((out / "quick" / "larnn-har.json").read_text())
    numbers["quick"] = clean(quick.get("models"))
    search = json.loads((out / "search" / "search.json").read_text())
    numbers["search"] = clean(search)
    (out / "numbers.json").write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out / 'numbers.json'}: {len(numbers)} entries")


if __name__ == "__main__":
    main()
