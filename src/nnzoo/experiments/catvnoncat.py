r"""``nnzoo reproduce catvnoncat``: the course's logistic regression and 4-layer net, to the digit.

deeplearning.ai's first programming assignments train two NumPy models on the cat / non-cat
images (209 training and 50 test images, 64 x 64 x 3, flattened to 12288 values / 255):

* logistic regression, zero-initialised, full-batch gradient descent at lr 0.005 for 2000
  iterations (published: cost 0.693147 at iteration 0 and 0.140872 at 1900, train accuracy
  99.04306220095694 %, test 70.0 %), and the same at lr 0.01, 0.001 and 0.0001 for 1500
  iterations (99.52 / 68.0, 88.99 / 64.0, 68.42 / 36.0);
* the 4-layer network [12288, 20, 7, 5, 1] (ReLU, ReLU, ReLU, sigmoid), initialised as the
  course's ``initialize_parameters_deep`` (randn / sqrt(n_{l-1}) after ``np.random.seed(1)``),
  lr 0.0075 for 2500 iterations (published: cost 0.771749 at iteration 0 and 0.092878 at 2400,
  train 98.56 %, test 80 %).

Both are deterministic, so the recipe compares the printed digits: a cost printed with ``%f``
matches when it rounds to the same six decimals, an accuracy when its decimals start with the
published ones. The pixels are read in double precision, as the course divides them
(``data.options.dtype = "float64"``): in float32 the 4-layer network's costs leave the course's
after iteration 1200, where a ReLU's sign flips on a rounding difference. The models are
`nnzoo.scratch`'s (``scratch-logistic``, ``scratch-mlp``),
trained by nnzoo's one training loop: one epoch is one iteration over the whole training set
(``batch_size`` 209, plain SGD), so the loss logged for epoch i + 1 is the cost the course
prints for iteration i. Every image is in the training split (``val_fraction = 0``): the course
selects nothing, it reports the model after the last iteration, and so does this recipe; the
test split is evaluated once, with that model. The train accuracy is the final model's, on
all 209 images, computed as the course does (100 - mean |prediction - y| x 100).

Writes ``catvnoncat.json`` (the record), ``catvnoncat.md`` / ``.html``, the cost curves and a
gallery of the misclassified test images into ``--out`` (default results/); the run folders go
to ``--runs`` (default runs/catvnoncat), and a repeated command picks up the finished runs.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import check_common, fill_data_root
from nnzoo.experiments.plan import run_tasks
from nnzoo.io import write_atomic
from nnzoo.report.markdown import table, write_report
from nnzoo.report.plots import plot_compare, plot_image_gallery
from nnzoo.utils.environment import provenance

NAME = "catvnoncat"
HELP = "the course's NumPy logistic regression and 4-layer network on cat / non-cat images"
STEM = NAME

# run key -> (model, its options, learning rate, iterations); the course's settings
RUNS: dict[str, tuple[str, dict[str, Any], float, int]] = {
    "logistic-lr0.005": ("scratch-logistic", {}, 0.005, 2000),
    "logistic-lr0.01": ("scratch-logistic", {}, 0.01, 1500),
    "logistic-lr0.001": ("scratch-logistic", {}, 0.001, 1500),
    "logistic-lr0.0001": ("scratch-logistic", {}, 0.0001, 1500),
    "deep-4-layer": (
        "scratch-mlp",
        {"widths": [20, 7, 5], "hidden": "relu", "init": "course", "init_seed": 1},
        0.0075,
        2500,
    ),
}
QUICK_ITERATIONS = 30  # --quick: every run this many iterations (for tests)

# What the course's notebooks print. "round": printed with %f (six decimals, rounded);
# "prefix": the decimals of the value as printed, cut where the assignment text cuts them.
PUBLISHED: dict[str, dict[str, tuple[str, str]]] = {
    "logistic-lr0.005": {
        "cost at iteration 0": ("0.693147", "round"),
        "cost at iteration 1900": ("0.140872", "round"),
        "train accuracy %": ("99.04306220095694", "prefix"),
        "test accuracy %": ("70.0", "prefix"),
    },
    "logistic-lr0.01": {
        "train accuracy %": ("99.52", "prefix"),
        "test accuracy %": ("68.0", "prefix"),
    },
    "logistic-lr0.001": {
        "train accuracy %": ("88.99", "prefix"),
        "test accuracy %": ("64.0", "prefix"),
    },
    "logistic-lr0.0001": {
        "train accuracy %": ("68.42", "prefix"),
        "test accuracy %": ("36.0", "prefix"),
    },
    "deep-4-layer": {
        "cost at iteration 0": ("0.771749", "round"),
        "cost at iteration 2400": ("0.092878", "round"),
        "train accuracy %": ("98.56", "prefix"),
        "test accuracy %": ("80.0", "prefix"),
    },
}
GALLERY_RUN = "logistic-lr0.005"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_ITERATIONS} iterations per run (a smoke test; nothing matches then)",
    )  # fmt: skip


def run_config(key: str, iterations: int) -> RunConfig:
    model, options, lr, _ = RUNS[key]
    return RunConfig(
        data=DataConfig(name="catvnoncat", options={"val_fraction": 0.0, "dtype": "float64"}),
        model=ModelConfig(name=model, options=options),
        train=TrainConfig(
            seed=0, epochs=iterations, batch_size=209, optimizer="sgd", lr=lr, momentum=0.0,
            monitor="loss", checkpoint_every=max(1, iterations // 4), threads=1,
        ),
        task=TaskConfig("classify", {"binary": True}),
    )  # fmt: skip


def printed_match(value: float, published: str, how: str) -> bool:
    """Whether ``value`` prints as ``published`` does: rounded to its decimals (``round``), or
    with its decimals as the first ones of the value's (``prefix``)."""
    decimals = len(published.partition(".")[2])
    if how == "round":
        return f"{value:.{decimals}f}" == published
    scale = 10**decimals
    return math.floor(value * scale + 1e-9) / scale == float(published)


def course_accuracy(predictions: np.ndarray, y: np.ndarray) -> float:
    """The course's ``100 - np.mean(np.abs(Y_prediction - Y)) * 100``."""
    return float(100 - np.mean(np.abs(predictions - y)) * 100)


def final_numbers(run_dir: Path, splits) -> dict[str, Any]:
    """The final model's accuracies (the course's formula) and its test predictions."""
    from nnzoo.runs.trained import load_trained

    model = load_trained(run_dir, "last").model  # the model after the last iteration
    model.eval()
    out: dict[str, Any] = {}
    with torch.no_grad():
        for part in ("train", "test"):
            data = getattr(splits, part)
            p = torch.sigmoid(model(data.x)).squeeze(-1).numpy()  # (N,) P(cat)
            predicted = (p > 0.5).astype(np.float64)  # the course's threshold
            out[f"{part} accuracy %"] = course_accuracy(predicted, data.y.numpy())
            if part == "test":
                out["test_probabilities"] = p.tolist()
    return out


def reproduce(args: argparse.Namespace) -> int:
    from nnzoo.runs.train import cached_splits

    check_common(args)
    fill_data_root(args)
    out = Path(args.out or "results")
    runs = Path(args.runs or "runs/catvnoncat")
    iterations = {
        k: args.epochs or (QUICK_ITERATIONS if args.quick else spec[3]) for k, spec in RUNS.items()
    }
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs={args.epochs}: expected an integer >= 1 (iterations per run)")
    configs = {key: run_config(key, n) for key, n in iterations.items()}
    splits = cached_splits(next(iter(configs.values())), args.data_root)
    if len(splits.val):
        raise ConfigError("catvnoncat: expected no validation part with val_fraction = 0")
    tasks = [
        {"key": key, "config": config, "run_dir": str(runs / key), "data_root": args.data_root,
         "threads": args.threads}
        for key, config in configs.items()
    ]  # fmt: skip
    done = {d["key"]: d for d in run_tasks(tasks, args.jobs)}

    rows = {}
    for key, d in done.items():
        history = d["history"]
        numbers = final_numbers(Path(d["run_dir"]), splits)
        rows[key] = {
            "model": RUNS[key][0],
            "options": RUNS[key][1],
            "lr": RUNS[key][2],
            "iterations": iterations[key],
            "run": d["run_dir"],
            "params": d["results"]["params"],
            "costs": [h["loss"] for h in history],  # cost at iteration i = costs[i]
            "train accuracy %": numbers["train accuracy %"],
            "test accuracy %": numbers["test accuracy %"],
            "test_probabilities": numbers["test_probabilities"],
            "seconds_per_iteration": d["results"]["seconds_per_epoch"],
        }
    test = splits.test
    record = {
        "recipe": NAME,
        **provenance(),
        "quick": bool(args.quick),
        "data": {"train": len(splits.train), "test": len(test), "classes": splits.class_names},
        "test_labels": test.y.tolist(),
        "runs": rows,
        "published": PUBLISHED,
    }
    out.mkdir(parents=True, exist_ok=True)
    draw_gallery(out, record, test.x.numpy())
    write_atomic(out / f"{STEM}.json", json.dumps(record, indent=2) + "\n")
    path = write_report_from(out, record)
    print(f"wrote {path} and {out / (STEM + '.json')}")
    return 0


def misclassified(record: dict[str, Any]) -> list[tuple[int, float]]:
    """(test index, P(cat)) of the gallery run's wrong test predictions."""
    probabilities = record["runs"][GALLERY_RUN]["test_probabilities"]
    return [
        (i, p)
        for i, (p, y) in enumerate(zip(probabilities, record["test_labels"]))
        if int(p > 0.5) != y
    ]


def draw_gallery(out: Path, record: dict[str, Any], images: np.ndarray) -> None:
    """The misclassified test images of the lr 0.005 logistic regression, with their labels."""
    names = record["data"]["classes"]
    wrong = misclassified(record)
    if not wrong:
        return
    captions = [
        f"#{i}: {names[record['test_labels'][i]]}, said {names[int(p > 0.5)]} ({p:.2f})"
        for i, p in wrong
    ]
    plot_image_gallery(
        images[[i for i, _ in wrong]], captions, out / f"{STEM}-misclassified.png",
        title="Misclassified test images (logistic regression, lr 0.005): true, predicted (P(cat))",
    )  # fmt: skip


def comparison_rows(key: str, row: dict[str, Any]) -> list[list[Any]]:
    out = []
    for quantity, (published, how) in PUBLISHED[key].items():
        if quantity.startswith("cost at iteration "):
            i = int(quantity.rsplit(" ", 1)[1])
            value = row["costs"][i] if i < len(row["costs"]) else None
        else:
            value = row[quantity]
        if value is None:
            out.append([quantity, published, "not run", ""])
            continue
        shown = f"{value:.6f}" if how == "round" else repr(value)
        out.append(
            [quantity, published, shown, "yes" if printed_match(value, published, how) else "NO"]
        )
    return out


def write_report_from(out: Path, record: dict[str, Any]) -> Path:
    """catvnoncat.md / .html and the cost curves from the record alone (``nnzoo report``); the
    gallery, drawn from the images, is linked when it is there."""
    runs = record["runs"]
    histories = {
        f"{key} (lr {row['lr']:g})": [{"epoch": i, "loss": c} for i, c in enumerate(row["costs"])]
        for key, row in runs.items()
    }
    curves = out / f"{STEM}-costs.png"
    plot_compare(
        histories, "loss", curves, title="Cost against iteration (full-batch gradient descent)"
    )
    headers = ["quantity", "published", "nnzoo", "matches the printed digits"]
    sections = [
        (
            "Protocol",
            f"{record['data']['train']} training and {record['data']['test']} test images, "
            "64 x 64 x 3 flattened in the file's pixel order (row, column, channel) and divided by "
            "255. NumPy models from `nnzoo.scratch` (float64), trained by nnzoo's training loop: "
            "full-batch gradient descent (SGD, batch = the training set), one epoch per iteration. "
            "No validation split and no selection, as in the course: the numbers are those of the "
            "model after the last iteration; the test split is evaluated once with it."
            + (
                "\n\n**Quick run** (`--quick`): a few iterations per run; nothing is expected "
                "to match."
                if record["quick"]
                else ""
            ),
        ),
    ]
    for key, title in (
        ("logistic-lr0.005", "Logistic regression, lr 0.005, 2000 iterations"),
        ("deep-4-layer", "4-layer network [12288, 20, 7, 5, 1], lr 0.0075, 2500 iterations"),
    ):
        if key in runs:
            row = runs[key]
            sections.append(
                (
                    f"{title} ({row['params']:,} parameters)",
                    table(comparison_rows(key, row), headers),
                )
            )
    lr_rows = []
    for key, row in runs.items():
        if key.startswith("logistic"):
            published = PUBLISHED[key]
            train, test = published["train accuracy %"][0], published["test accuracy %"][0]
            lr_rows.append([
                f"{row['lr']:g}", row["iterations"], f"{row['train accuracy %']:.2f}",
                f"{row['test accuracy %']:.2f}", f"{train} / {test}", f"{row['costs'][-1]:.6f}",
                "yes" if all(r[3] == "yes" for r in comparison_rows(key, row)) else "NO",
            ])  # fmt: skip
    sections.append(
        (
            "Learning rates (logistic regression)",
            table(
                lr_rows,
                [
                    "lr",
                    "iterations",
                    "train acc. %",
                    "test acc. %",
                    "published train / test",
                    "last cost",
                    "matches",
                ],
            )
            + f"\n\n![cost curves]({curves.name})",
        )
    )
    gallery = out / f"{STEM}-misclassified.png"
    wrong = misclassified(record)
    if gallery.exists() and wrong:
        sections.append(
            (
                f"Misclassified test images ({len(wrong)} of {record['data']['test']})",
                f"![misclassified test images]({gallery.name})",
            )
        )
    env = {k: record[k] for k in ("command", "machine", "torch", "python", "date")}
    seconds = {key: f"{row['seconds_per_iteration'] * 1000:.1f} ms" for key, row in runs.items()}
    sections.append(
        ("Time per iteration", table([[k, v] for k, v in seconds.items()], ["run", ""]))
    )
    sections.append(("Provenance", table([[k, v] for k, v in env.items()], ["", ""])))
    return write_report(out / f"{STEM}.md", "Cat vs non-cat from scratch, reproduced", sections)


EXPERIMENT = register(
    Experiment(
        NAME,
        "recipe",
        HELP,
        add_arguments,
        reproduce,
        record=f"{STEM}.json",
        rebuild=write_report_from,
    )
)
