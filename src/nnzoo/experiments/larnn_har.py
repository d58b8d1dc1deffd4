"""The LARNN paper's UCI HAR table, honestly: ``nnzoo reproduce larnn-har [--quick]``.

Two protocols, both selected on validation, each testing once:

* **validation**: every model trains on the 16 training subjects left after holding out 5 for
  validation; the epoch is picked on validation accuracy and the test split is evaluated once,
  with that epoch's weights.
* **refit**: the epoch count the validation run picked is then used to retrain the same model
  and seed on all 21 training subjects for exactly that many epochs, and its last weights are
  tested once. That is how a number "trained on all the training data" is obtained honestly
  (the LARNN paper's published runs instead reported the best test epoch).

The rows and their budgets (`MODELS`): the paper's schedule (100 epochs, lr x 0.75 every 26
epochs) for the LARNN as the paper wrote it (``larnn-paper``: its BN-ELU core, BN(ELU) on keys
and values, H = 81, 27 heads, window 38, 3 residual layers, Adam 0.006, L2 0.00065, dropout
0.089, batch 256), nnzoo's default LARNN cell at the same size and settings, and the other
rows (LSTM, GRU, BN-LSTM, peephole LSTM, bidirectional residual LSTM, DeepConvLSTM, the 1-D CNN
of Ronao & Cho) with LSTM-HAR's optimiser (Adam 0.0025, L2 0.0015; Adam 0.001 without L2 for
the two convolutional models) at batch 256; and the LSTM-HAR baseline under its own protocol
as well (300 epochs, batch 1500, forget-gate bias 1, no schedule). Five seeds per row.

The targets of a family (LARNN, LSTM) apply to the row of that family with the best mean
validation accuracy, and "best model" is the row with the best mean validation accuracy: no
choice is made on the test split.

The budget (tens of core-hours on a CPU) is trained a few runs at a time (``--models``): every
finished run is kept in a ledger (`nnzoo.runs.ledger`, ``<out>/larnn-har-runs/`` unless
``--ledger`` says otherwise) committed with the table, and a later command, on any machine, takes
the runs it holds under the same config instead of training them again. The table holds every
row the ledger has runs for; what it still lacks (rows, seeds, refits) is listed in the record
(``incomplete``) and the report, whose targets are provisional until then. ``--table-only``
trains nothing and writes the table from what the ledger holds (between sittings). A run longer
than a sitting (a LARNN at the paper's size on one core) is parked: ``--park`` copies every
unfinished run's checkpoints into the ledger (`Ledger.park`), and the next command resumes it
from its last epoch on whatever machine it runs.

``--quick`` (the README's first command) trains every model on the real splits, whole, for a
few epochs each and one seed, without the refit, runs side by side (a few minutes on 2 cores),
and prints every epoch as it goes. The LARNNs at the paper's size take minutes per epoch on a
CPU, so the quick run trains small ones (H = 32, 4 heads, window 16). Its table sits next to the
committed full run (results/larnn-har.json) so that the reader sees what a full run gives; it
writes under runs/, never results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from nnzoo.config import experiment
from nnzoo.engine.callbacks import EpochLine
from nnzoo.engine.callbacks.nan_guard import NonFiniteLossError
from nnzoo.engine.runtime import check_device, set_threads
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import check_common, fill_data_root, make_config
from nnzoo.experiments.sections import trained_by, trained_by_section
from nnzoo.report.markdown import confusion_table, table, write_atomic, write_report
from nnzoo.report.plots import plot_confusion
from nnzoo.runs.ledger import Ledger
from nnzoo.runs.pool import map_tasks
from nnzoo.utils.environment import provenance

NAME = "larnn-har"
HELP = "the LARNN paper's UCI HAR table: LARNNs, LSTM-HAR, other cells and CNNs, on validation"

# the LARNN paper's schedule: 100 epochs, lr x 0.75 every 26 epochs
PAPER_SCHEDULE: dict[str, Any] = {
    "train.epochs": 100,
    "train.lr_step_every": 26,
    "train.lr_step_factor": 0.75,
}
# The rows but the LARNNs and the CNNs: LSTM-HAR's network (Linear 9->32 ReLU, 2 x 32, last
# step) and optimiser (Adam, lr 0.0025, L2 0.0015), batch 256 so that an epoch is 22 steps.
BASE: dict[str, Any] = {
    "data.name": "uci-har",
    "model.projection": 32,
    "model.hidden": 32,
    "model.layers": 2,
    "model.readout": "last",
    "train.optimizer": "adam",
    "train.lr": 0.0025,
    "train.weight_decay": 0.0015,
    "train.batch_size": 256,
    **PAPER_SCHEDULE,
}
# The LARNN paper's best trial (its README's round-2 best: 91.92 %).
LARNN_PAPER_SIZE: dict[str, Any] = {
    "data.name": "uci-har",
    "model.projection": 81,
    "model.hidden": 81,
    "model.layers": 3,
    "model.residual": True,
    "model.dropout": 0.089,
    "model.cell_options.window": 38,
    "model.cell_options.num_heads": 27,
    "model.cell_options.mode": "residual",
    "model.cell_options.positional_encoding": False,
    "train.optimizer": "adam",
    "train.lr": 0.006,
    "train.weight_decay": 0.00065,
    "train.batch_size": 256,
    **PAPER_SCHEDULE,
}
CONV: dict[str, Any] = {
    "data.name": "uci-har",
    "train.optimizer": "adam",
    "train.lr": 0.001,
    "train.batch_size": 256,
    **PAPER_SCHEDULE,
}

MODELS: dict[str, dict[str, Any]] = {
    "larnn-paper": {
        "label": "LARNN as the paper wrote it (larnn-paper: BN-ELU core, BN(ELU) keys/values, "
                 "c_0 in the window; H=81, 27 heads, window 38, 3 residual layers)",
        "family": "larnn",
        "published": 91.92,
        "source": "LARNN paper (peak test epoch; its cells never trained)",
        "settings": {**LARNN_PAPER_SIZE, "model.cell": "larnn-paper"},
    },
    "larnn": {
        "label": "LARNN, nnzoo's default cell (LSTM core, no key/value activation), same size",
        "family": "larnn",
        "published": None,
        "source": "",
        "settings": {**LARNN_PAPER_SIZE, "model.cell": "larnn"},
    },
    "lstm-har": {
        "label": "LSTM-HAR under its own protocol (Linear 9→32 ReLU, 2 × LSTM(32), last "
                 "step; 300 epochs, batch 1500, forget bias 1)",
        "family": "lstm",
        "published": 91.65,
        "source": "LSTM-HAR (Chevalier 2016)",
        "settings": {
            **BASE, "model.cell": "lstm", "model.cell_options.forget_bias": 1.0,
            "train.batch_size": 1500, "train.epochs": 300, "train.lr_step_every": 0,
        },
    },
    "lstm": {
        "label": "LSTM (LSTM-HAR's network, the paper's schedule)",
        "family": "lstm",
        "published": None,
        "source": "",
        "settings": {**BASE, "model.cell": "lstm"},
    },
    "gru": {
        "label": "GRU (same shape as the LSTM)",
        "published": None,
        "source": "",
        "settings": {**BASE, "model.cell": "gru"},
    },
    "bn-lstm": {
        "label": "BN-LSTM (same shape as the LSTM)",
        "published": None,
        "source": "",
        "settings": {**BASE, "model.cell": "bn-lstm", "model.cell_options.max_length": 128},
    },
    "peephole-lstm": {
        "label": "Peephole LSTM (same shape as the LSTM)",
        "published": None,
        "source": "",
        "settings": {**BASE, "model.cell": "peephole-lstm"},
    },
    "bi-res-lstm": {
        "label": "Bidirectional residual LSTM (2 layers, 2 × 32 per layer)",
        "published": 93.35,
        "source": "Zhao et al. 2018 (Deep Residual Bidir-LSTM)",
        "settings": {**BASE, "model.cell": "lstm", "model.bidirectional": True,
                     "model.residual": True},
    },
    "deep-conv-lstm": {
        "label": "DeepConvLSTM (4 × conv 64, kernel 5; 2 × LSTM(128))",
        "published": None,
        "source": "",
        "settings": {**CONV, "model.name": "deep-conv-lstm"},
    },
    "cnn1d": {
        "label": "1-D CNN of Ronao & Cho (conv 96-192-192, kernel 9, pool 3; dense 1000)",
        "published": 94.79,
        "source": "Ronao & Cho 2016 (raw signals)",
        "settings": {**CONV, "model.name": "cnn1d"},
    },
}  # fmt: skip
SEEDS = 5
TARGETS = {"larnn": 93.5, "lstm": 92.0, "best": 95.0}
# --quick: epochs per model (a few minutes in all on 2 cores), and the small LARNNs it trains.
QUICK_EPOCHS = {"lstm-har": 15, "lstm": 15, "gru": 12, "peephole-lstm": 10, "bi-res-lstm": 8,
                "bn-lstm": 6, "larnn": 5, "larnn-paper": 3, "deep-conv-lstm": 4,
                "cnn1d": 4}  # fmt: skip
QUICK_LARNN = {
    "model.projection": 32, "model.hidden": 32, "model.layers": 2,
    "model.cell_options.window": 16, "model.cell_options.num_heads": 4,
}  # fmt: skip
QUICK_SETTINGS: dict[str, dict[str, Any]] = {
    "larnn": QUICK_LARNN,
    "larnn-paper": {**QUICK_LARNN, "model.cell_options.attention_size": 32},
}
QUICK_LABELS = {
    "larnn": "LARNN, small for the quick run (residual, H=32, 4 heads, window 16, 2 residual "
             "layers)",
    "larnn-paper": "LARNN as the paper wrote it, small for the quick run (H=32, 4 heads, "
                   "window 16, 2 residual layers)",
}  # fmt: skip
FULL_RUN = Path(__file__).resolve().parents[3] / "results" / "larnn-har.json"


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample sd; no sd (None) from a single seed."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def full_run() -> dict[str, float]:
    """{model: mean test accuracy %} of the committed full run, or {} where there is none."""
    try:
        document = json.loads(FULL_RUN.read_text(encoding="utf-8"))
        return {m["name"]: m["test_accuracy_mean"] for m in document["models"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def task_config(task: dict[str, Any]):
    """The run's config: the row's settings, the quick overrides, epochs, seed, refit."""
    spec = MODELS[task["name"]]
    quick = QUICK_SETTINGS.get(task["name"], {}) if task["quick"] else {}
    layers: list[dict[str, Any]] = [spec["settings"], quick, {"train.seed": task["seed"]}]
    if task["epochs"] is not None:
        layers.append({"train.epochs": task["epochs"]})
    if task["stage"] == "refit":  # all 21 training subjects, no validation
        layers.append({"data.options.val_subjects": 0})
    if task.get("device"):
        layers.append({"train.device": task["device"]})
    return make_config(*layers)


def run_one(task: dict[str, Any]) -> dict[str, Any] | None:
    """Train (or pick up) one model, seed and stage; runs in a worker process with ``--jobs``.

    A run kept in the ledger (``task["ledger"]``, `nnzoo.runs.ledger`) under the same config is
    taken from there; with ``task["kept_only"]`` a run that is neither there nor finished in its
    run folder is not trained: None.
    """
    from nnzoo.experiments.plan import train_task

    set_threads(task["threads"] or 0)
    config = task_config(task)
    stage = "-refit" if task["stage"] == "refit" else ""
    # one name in the ledger for the run wherever it trains; its folder also names the device
    key = f"{task['name']}{stage}-s{task['seed']}-{experiment(config).digest()}"
    run_dir = Path(task["runs"]) / f"{task['name']}{stage}-s{task['seed']}-{config.digest()}"
    line = EpochLine(f"{task['name']}{stage} s{task['seed']}")
    done = train_task({
        "key": key, "config": config, "run_dir": str(run_dir),
        "data_root": task["data_root"], "threads": task["threads"], "callbacks": [line],
        "ledger": task["ledger"], "kept_only": task.get("kept_only", False),
    })  # fmt: skip
    if done is None:
        return None
    result = done["results"]
    if "diverged" in result:
        raise NonFiniteLossError(f"{run_dir.name}: {result['diverged']}")
    return {
        "task": task,
        "config": config.to_dict(),
        "cell": config.model.label,
        # the run folder; for a run taken from the ledger on a machine without it, the entry
        "run_dir": str(run_dir if run_dir.is_dir() else Ledger(task["ledger"]).path(key)),
        "result": result,
        "provenance": done.get("provenance") or provenance(),
        "splits_info": result["data_info"],
        "class_names": result["class_names"],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This recipe's own flags of ``nnzoo reproduce`` (the shared ones:
    `nnzoo.experiments.options.add_recipe_arguments`)."""
    p.add_argument("--quick", action="store_true", help="a few minutes instead of hours")
    p.add_argument("--seeds", type=int, help=f"seeds per model (default {SEEDS}; 1 with --quick)")
    p.add_argument("--models", help=f"comma-separated subset of: {', '.join(MODELS)}")
    p.add_argument(
        "--device",
        help="where every run trains: cpu (default), cuda, cuda:N or auto; a run kept in the "
             "ledger counts whichever device trained it",
    )  # fmt: skip
    p.add_argument(
        "--ledger",
        help="the folder that keeps every finished run's results, committed with the table, "
             "so that later commands (on any machine) take them instead of training again "
             f"(default: <out>/{STEM}-runs)",
    )  # fmt: skip
    p.add_argument(
        "--no-refit", action="store_true",
        help="skip the refit protocol (retraining on all 21 training subjects); --quick skips it",
    )  # fmt: skip
    p.add_argument(
        "--park", action="store_true",
        help="train nothing: copy every unfinished run of --runs (its last and best checkpoints "
             "and metrics) into <ledger>/unfinished/, to commit with the ledger, so that a "
             "later command on another machine resumes it from its last epoch",
    )  # fmt: skip
    p.add_argument(
        "--table-only", action="store_true",
        help="train nothing: write the table from the runs the ledger (or finished run folders) "
             "already hold, e.g. between sittings of a table trained a few rows at a time",
    )  # fmt: skip


# rough seconds per epoch on one CPU core (two runs side by side on a 2-core Xeon, torch
# 2.13; larnn-paper and bn-lstm estimated), to start the slowest runs first
COST = {"larnn-paper": 95, "larnn": 70, "deep-conv-lstm": 25, "bn-lstm": 13, "cnn1d": 11,
        "bi-res-lstm": 6, "lstm-har": 5, "peephole-lstm": 4, "gru": 3.5, "lstm": 3}  # fmt: skip


def configured_epochs(name: str) -> int:
    return MODELS[name]["settings"]["train.epochs"]  # every row states its budget


def reproduce(args: argparse.Namespace) -> int:
    names = list(MODELS) if not args.models else [m.strip() for m in args.models.split(",")]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ConfigError(f"--models: unknown {unknown[0]!r}; expected some of {', '.join(MODELS)}")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds}: expected an integer >= 1")
    check_common(args)
    if args.device:
        check_device(args.device, "--device")
    out = Path(args.out or ("runs/larnn-har-quick" if args.quick else "results"))
    runs = Path(args.runs or ("runs/larnn-har-quick" if args.quick else "runs/larnn-har"))
    fill_data_root(args)
    seeds = args.seeds or (1 if args.quick else SEEDS)
    ledger = str(Path(args.ledger) if args.ledger else out / f"{STEM}-runs")
    common = {"quick": args.quick, "data_root": args.data_root, "runs": str(runs),
              "threads": args.threads, "ledger": ledger, "device": args.device}  # fmt: skip

    def seeds_of(name: str, stage: str, kept_only: bool = False) -> list[dict[str, Any]]:
        epochs = args.epochs or (QUICK_EPOCHS[name] if args.quick else None)
        return [{**common, "name": name, "seed": seed, "stage": stage, "epochs": epochs,
                 "kept_only": kept_only} for seed in range(seeds)]  # fmt: skip

    def cost(task: dict[str, Any]) -> float:
        return -COST.get(task["name"], 1) * (task["epochs"] or configured_epochs(task["name"]))

    # The models asked for, trained or picked up, the slowest runs first so that parallel
    # workers finish together; then the other rows as far as the ledger holds them (runs
    # trained by earlier commands, maybe on other machines).
    if getattr(args, "park", False):
        return park(runs, Ledger(ledger))
    table_only = getattr(args, "table_only", False)
    if table_only and args.models:
        raise ConfigError("--table-only takes every row the ledger holds; drop --models")
    tasks = [] if table_only else [t for name in names for t in seeds_of(name, "val")]
    kept = [t for name in MODELS if name not in names or table_only
            for t in seeds_of(name, "val", True)]  # fmt: skip
    val = {
        (d["task"]["name"], d["task"]["seed"]): d
        for d in [*map_tasks(run_one, sorted(tasks, key=cost), args.jobs), *map(run_one, kept)]
        if d is not None
    }
    refit: dict[tuple[str, int], dict[str, Any]] = {}
    if not (args.quick or args.no_refit):
        # each seed retrains on all 21 subjects for the epoch count its validation run picked
        def again(t: dict[str, Any]) -> dict[str, Any]:
            picked = val[t["name"], t["seed"]]["result"]["selected_epoch"]
            return {**t, "stage": "refit", "epochs": picked}

        asked = [again(t) for t in tasks]
        others = [again(t) for t in kept if (t["name"], t["seed"]) in val]
        done = [*map_tasks(run_one, sorted(asked, key=cost), args.jobs), *map(run_one, others)]
        refit = {(d["task"]["name"], d["task"]["seed"]): d for d in done if d is not None}
    rows = []
    for name in MODELS:
        found = sorted(s for n, s in val if n == name)
        if found:
            refits = [refit[name, s] for s in found if (name, s) in refit]
            rows.append(row(name, [val[name, s] for s in found], refits, args.quick))
    if not val:
        raise ConfigError(
            f"--table-only: {ledger} holds no finished run of this recipe's configs; train some "
            "rows first (--models)"
        )
    first = next(iter(val.values()))
    write_results(rows, first["splits_info"], first["class_names"], out, quick=args.quick,
                  ledger=ledger, refit=not args.no_refit)  # fmt: skip
    return 0


def park(runs: Path, ledger: Ledger) -> int:
    """``--park``: every unfinished run folder of ``runs`` (named ``<model>[-refit]-s<seed>-
    <digest>``), parked in the ledger under its key (the digest of its config without the
    execution fields, as `run_one` names it)."""
    from nnzoo.runs.rundir import RunDir

    found = 0
    for folder in sorted(p for p in runs.glob("*-s*-*") if p.is_dir()) if runs.is_dir() else []:
        run = RunDir(folder)
        if not run.unfinished:
            continue
        key = f"{folder.name.rsplit('-', 1)[0]}-{experiment(run.read_config()).digest()}"
        epoch = ledger.park(key, folder)
        print(f"{folder.name}: epoch {epoch} parked in {ledger.parked(key).path}")
        found += 1
    print(f"parked {found} unfinished run(s) of {runs}" if found else f"{runs}: no unfinished run")
    return 0


def row(name: str, mine: list[dict], refits: list[dict], quick: bool) -> dict[str, Any]:
    """One line of the table, from the validation runs (and refits) of one model."""
    spec = MODELS[name]
    results = [d["result"] for d in mine]
    accs = [100 * r["test"]["accuracy"] for r in results]
    finals = [100 * r["final_epoch_test"]["accuracy"] for r in results]
    vals = [100 * r["selected_val"]["val_accuracy"] for r in results]
    mean, sd = mean_sd(accs)
    config = mine[0]["config"]
    out = {
        "name": name,
        "label": QUICK_LABELS.get(name, spec["label"]) if quick else spec["label"],
        "family": spec.get("family"),
        "cell": mine[0]["cell"],
        "params": results[0]["params"],
        "seeds": [d["task"]["seed"] for d in mine],
        "epochs": config["train"]["epochs"],
        "batch_size": config["train"]["batch_size"],
        "lr_step_every": config["train"]["lr_step_every"],
        "val_accuracy": vals,
        "val_accuracy_mean": statistics.fmean(vals),
        "test_accuracy": accs,
        "test_accuracy_mean": mean,
        "test_accuracy_sd": sd,
        "final_epoch_test_accuracy": finals,
        "final_epoch_test_accuracy_mean": statistics.fmean(finals),
        "selected_epochs": [r["selected_epoch"] for r in results],
        "seconds_per_epoch": statistics.fmean(r["seconds_per_epoch"] for r in results),
        "training_hours": sum(r["seconds_per_epoch"] * r["epochs_run"] for r in results) / 3600,
        "published": spec["published"],
        "published_source": spec["source"],
        "config": config,
        "runs": [d["run_dir"] for d in mine],
        "trained_by": trained_by(d["provenance"] for d in [*mine, *refits]),
        "last_seed_confusion": results[-1]["test"]["confusion"],
    }
    if refits:
        refit_results = [d["result"] for d in refits]
        refit_accs = [100 * r["final_epoch_test"]["accuracy"] for r in refit_results]
        refit_mean, refit_sd = mean_sd(refit_accs)
        out.update({
            "refit_seeds": [d["task"]["seed"] for d in refits],
            "refit_epochs": [r["epochs_run"] for r in refit_results],
            "refit_test_accuracy": refit_accs,
            "refit_test_accuracy_mean": refit_mean,
            "refit_test_accuracy_sd": refit_sd,
            "refit_runs": [d["run_dir"] for d in refits],
            "refit_training_hours": sum(r["seconds_per_epoch"] * r["epochs_run"]
                                        for r in refit_results) / 3600,
        })  # fmt: skip
    return out


def completeness(rows: list[dict[str, Any]], refit: bool) -> list[str]:
    """What the table still lacks against the recipe (every row, SEEDS seeds, their refits)."""
    have = {r["name"]: r for r in rows}
    lacking = [f"`{n}`: not trained yet" for n in MODELS if n not in have]
    for r in rows:
        parts = []
        if len(r["seeds"]) < SEEDS:
            parts.append(f"{len(r['seeds'])} of {SEEDS} seeds")
        if refit and len(r.get("refit_seeds", [])) < SEEDS:
            parts.append(f"{len(r.get('refit_seeds', []))} of {SEEDS} refits")
        if parts:
            lacking.append(f"`{r['name']}`: " + ", ".join(parts))
    return lacking


def picked_on_validation(rows: list[dict[str, Any]], family: str | None) -> dict | None:
    """The row (of ``family``, or of all) with the best mean validation accuracy; None where
    the record has no validation accuracy (records written before it was kept)."""
    pool = [r for r in rows if family is None or (r.get("family") or r["name"]) == family]
    pool = [r for r in pool if r.get("val_accuracy_mean") is not None]
    return max(pool, key=lambda r: r["val_accuracy_mean"]) if pool else None


def budget_text(rows: list[dict[str, Any]], machine: str) -> str:
    """What this machine trained, against what the issue and the papers asked for."""
    lines = [f"Machine: {machine}. Per model (one run per seed, and one refit per seed):"]
    for r in rows:
        hours = r.get("training_hours")
        if hours is None:
            hours = r["seconds_per_epoch"] * r["epochs"] * len(r["seeds"]) / 3600
        hours += r.get("refit_training_hours", 0.0)
        short = [f"{len(r['seeds'])} seed(s) instead of {SEEDS}"] if len(r["seeds"]) < SEEDS else []
        schedule = r.get("lr_step_every")
        lines.append(
            f"- `{r['name']}`: {len(r['seeds'])} seed(s) × {r['epochs']} epochs"
            + (f", batch {r['batch_size']}" if "batch_size" in r else "")
            + (f", lr × 0.75 every {schedule} epochs" if schedule else "")
            + f", {r['seconds_per_epoch']:.0f} s/epoch, {hours:.2f} h of training"
            + (f" ({'; '.join(short)})" if short else "")
        )
    return "\n".join(lines)


STEM = "larnn-har"  # the file names of the record and the report: larnn-har.json / .md


def write_results(
    rows: list[dict[str, Any]],
    data_info: dict[str, Any],
    class_names: list[str],
    out: Path,
    quick: bool,
    ledger: str = "",
    refit: bool = True,
) -> None:
    """The record (larnn-har.json) and the report built from it (larnn-har.md / .html)."""
    document = {"recipe": NAME, **provenance(), "quick": quick, "data": data_info,
                "class_names": class_names, "targets": TARGETS, "models": rows,
                "ledger": ledger, "refit": refit,
                "incomplete": [] if quick else completeness(rows, refit)}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / f"{STEM}.json", json.dumps(document, indent=2) + "\n")
    path = write_report_from(out, document)
    print(f"wrote {path} and {out / (STEM + '.json')}")


REFIT_HEADER = "refit: test acc. % (all 21 subjects, picked epoch count), mean ± sd"


def write_report_from(out: Path, document: dict[str, Any]) -> Path:
    """larnn-har.md / .html and the confusion plot, from the record alone: ``nnzoo report``
    rebuilds them from larnn-har.json (records written before ``class_names`` was kept name
    the classes by number; before the validation accuracy was kept, no best model is named)."""
    rows, data_info, quick = document["models"], document["data"], document["quick"]
    env = {k: document[k] for k in ("command", "machine", "torch", "python", "date")}
    stem = STEM
    full = {k: f"{v:.2f}" for k, v in full_run().items()} if quick else {}
    best = picked_on_validation(rows, None)
    refit = any("refit_test_accuracy_mean" in r for r in rows)
    # the machines that trained the runs (records before the ledger: the command's)
    machines = sorted({t["machine"] for r in rows for t in r.get("trained_by", [])})
    machines = machines or [env["machine"]]

    def pm(r, key="test_accuracy"):
        if f"{key}_mean" not in r:
            return "—"
        if r[f"{key}_sd"] is None:
            return f"{r[f'{key}_mean']:.2f} (one seed: no sd)"
        return f"{r[f'{key}_mean']:.2f} ± {r[f'{key}_sd']:.2f}"

    def val(r):
        v = r.get("val_accuracy_mean")
        return "—" if v is None else f"{v:.2f}"

    table_rows = [
        [
            r["label"],
            val(r),
            pm(r),
            *([pm(r, "refit_test_accuracy")] if refit else []),
            f"{r['final_epoch_test_accuracy_mean']:.2f}",
            "—" if r["published"] is None else f"{r['published']:.2f}",
            len(r["seeds"]),
            r["epochs"],
            ", ".join(map(str, r["selected_epochs"])),
            r["params"],
            f"{r['seconds_per_epoch']:.1f}",
            *([full.get(r["name"], "—")] if quick else []),
        ]
        for r in rows
    ]
    headers = [
        "model",
        "val acc. % (picked epoch), mean",
        "test acc. % (epoch picked on val), mean ± sd",
        *([REFIT_HEADER] if refit else []),
        "final-epoch test acc. %",
        "published %",
        "seeds",
        "epochs",
        "picked epochs",
        "params",
        "s / epoch",
        *(["full run: test acc. % (results/larnn-har.json)"] if quick else []),
    ]
    verdicts = []
    for key, target in TARGETS.items():
        r = picked_on_validation(rows, None if key == "best" else key)
        if r is None:
            continue
        what = "best model" if key == "best" else f"best {key.upper()} row"
        got = [r["test_accuracy_mean"]]
        if refit:
            got.append(r.get("refit_test_accuracy_mean"))
        cells = []
        for g in got:
            cells += ["—", ""] if g is None else [f"{g:.2f}", "met" if g >= target else "MISSED"]
        verdicts.append([f"{what} on validation ({r['name']}) ≥ {target}%", *cells])
    verdict_headers = ["target", "validation protocol", ""]
    if refit:
        verdict_headers += ["refit protocol", ""]
    notes = "\n".join(
        f"- `{r['name']}`: {r['published_source']}" for r in rows if r["published_source"]
    )
    sections = [
        (
            "Protocol",
            f"Data: {data_info.get('validation')}; standardised with training statistics. "
            "Each run picks its epoch on validation accuracy and evaluates the test split once "
            "with those weights."
            + (
                " The refit protocol then retrains the same model and seed on all 21 training "
                "subjects for the epoch count its validation run picked and tests its last "
                "weights once."
                if refit
                else ""
            )
            + " The targets of a family apply to its row with the best mean validation "
            "accuracy, and the best model is the row with the best mean validation accuracy. "
            "`final-epoch` is the test accuracy of the last epoch's weights, shown for "
            "comparison only (it is not how a model should be chosen)."
            + (
                "\n\n**Quick run**: one seed and a few epochs per model (and small LARNNs), "
                "no refit, so these are early-training numbers, below what the models reach; "
                "the last column is the committed full run (the recipe's budget of epochs and "
                "seeds)."
                if quick
                else ""
            ),
        ),
        ("Budget", budget_text(rows, "; ".join(machines))),
    ]
    lacking = document.get("incomplete", [])
    if lacking:
        sections.append((
            "Not complete yet",
            "This table is being trained a few runs at a time (every finished run is kept in "
            f"`{document.get('ledger', '')}`); against the recipe it still lacks:\n\n"
            + "\n".join(f"- {line}" for line in lacking)
            + "\n\nThe targets below are provisional until it is complete.",
        ))  # fmt: skip
    sections += [
        ("Results", table(table_rows, headers)),
        ("Targets", table(verdicts, verdict_headers)),
        ("Published numbers", notes),
    ]
    if best is not None:
        confusion = best["last_seed_confusion"]
        class_names = document.get("class_names") or [str(i) for i in range(len(confusion))]
        plot_confusion(
            confusion, class_names, out / f"{stem}-confusion.png",
            title=f"{best['name']}, test, seed {best['seeds'][-1]}",
        )  # fmt: skip
        sections.append((
            f"Confusion matrix of the model best on validation ({best['name']}, seed "
            f"{best['seeds'][-1]}, validation protocol)",
            confusion_table(confusion, class_names)
            + f"\n\n![confusion matrix]({stem}-confusion.png)",
        ))  # fmt: skip
    sections.append(("Provenance", table([[k, v] for k, v in env.items()], ["", ""])))
    by = trained_by_section(trained_by(t for r in rows for t in r.get("trained_by", [])), env)
    sections += [by] if by else []  # rows trained by earlier commands
    return write_report(out / f"{stem}.md", "LARNN paper's UCI HAR table, reproduced", sections)


EXPERIMENT = Experiment(NAME, "recipe", HELP, add_arguments, reproduce,
                        record=f"{STEM}.json", rebuild=write_report_from)  # fmt: skip
register(EXPERIMENT)
