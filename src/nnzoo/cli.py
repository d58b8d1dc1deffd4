"""The ``nnzoo`` command line.

    nnzoo train [CONFIG.toml] [--cell larnn --hidden 64 ...]   train (or resume) a run
    nnzoo evaluate RUN_DIR|CHECKPOINT [--split test]           metrics, confusion matrix
    nnzoo predict RUN_DIR|CHECKPOINT INPUT.npz|INPUT.csv       class + probability per sequence
    nnzoo summary [CONFIG.toml|RUN_DIR|CHECKPOINT]             per-layer parameter table
    nnzoo list [cells|models|datasets|studies|recipes]
    nnzoo data list | download NAME | path
    nnzoo study lr-sweep [--lrs 1,0.1 ...]                     a study (nnzoo list studies)
    nnzoo reproduce larnn-har [--quick]
    nnzoo reproduce larnn-har-search [--trials 10,6 --epochs 3 --train-windows 1500]
    nnzoo report RUN_DIR... [--out DIR]                        rebuild a report; compare runs
    nnzoo search CONFIG.toml [--storage URL --create|--worker]  hyperparameter search (Optuna)

Errors a user can cause print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from nnzoo.errors import ConfigError, NnzooError

# flag -> config key, for the train / summary overrides
MODEL_FLAGS = {
    "model": ("model.name", str),
    "cell": ("model.cell", str),
    "hidden": ("model.hidden", int),
    "layers": ("model.layers", int),
    "dropout": ("model.dropout", float),
    "projection": ("model.projection", int),
    "readout": ("model.readout", str),
}
TRAIN_FLAGS = {
    "data": ("data.name", str),
    "data_path": ("data.path", str),
    "epochs": ("train.epochs", int),
    "batch_size": ("train.batch_size", int),
    "optimizer": ("train.optimizer", str),
    "lr": ("train.lr", float),
    "momentum": ("train.momentum", float),
    "weight_decay": ("train.weight_decay", float),
    "seed": ("train.seed", int),
    "lr_step_every": ("train.lr_step_every", int),
    "lr_step_factor": ("train.lr_step_factor", float),
    "plateau_patience": ("train.plateau_patience", int),
    "early_stopping": ("train.early_stopping", int),
    "monitor": ("train.monitor", str),
    "clip_norm": ("train.clip_norm", float),
    "clip_value": ("train.clip_value", float),
    "device": ("train.device", str),
    "threads": ("train.threads", int),
}
SWITCHES = {
    "bidirectional": "model.bidirectional",
    "residual": "model.residual",
    "tensorboard": "train.tensorboard",
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def add_model_flags(p: argparse.ArgumentParser) -> None:
    for flag, (_, kind) in MODEL_FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", type=kind, default=None)
    for flag in ("bidirectional", "residual"):
        p.add_argument(f"--{flag}", action="store_true", default=None)
    p.add_argument(
        "--cell-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a cell option, e.g. window=38 (repeatable)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any config value, e.g. train.lr=0.006 (repeatable)",
    )


def overrides_from(args: argparse.Namespace) -> list[str]:
    """Flags given on the command line, as config overrides (unset flags change nothing)."""
    out = []
    for flag, (key, kind) in {**MODEL_FLAGS, **TRAIN_FLAGS}.items():
        value = getattr(args, flag, None)
        if value is not None:
            out.append(f"{key}={json.dumps(value) if kind is str else value}")
    for flag, key in SWITCHES.items():
        if getattr(args, flag, None):
            out.append(f"{key}=true")
    out += [f"model.cell_options.{item}" for item in getattr(args, "cell_option", [])]
    out += list(getattr(args, "set", []))
    return out


def build_parser() -> Parser:
    parser = Parser(prog="nnzoo", description="Train, compare and explain deep networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train a model (resumes an unfinished run)")
    p.add_argument("config", nargs="?", help="a TOML config ([data], [model], [train])")
    add_model_flags(p)
    for flag, (_, kind) in TRAIN_FLAGS.items():
        p.add_argument(f"--{flag.replace('_', '-')}", type=kind, default=None)
    p.add_argument("--tensorboard", action="store_true", default=None)
    p.add_argument("--data-root", help="folder of datasets (default: $NNZOO_DATA)")
    p.add_argument("--out", help="run folder (default: runs/<data>-<cell>-s<seed>-<digest>)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix")
    p.add_argument("run", help="a run folder or a checkpoint file")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--data-root")
    p.add_argument("--data-path", help="read the split from this file or folder instead")

    p = sub.add_parser("predict", help="class and probability for each sequence of a file")
    p.add_argument("run", help="a run folder or a checkpoint file")
    p.add_argument("input", help=".npz (X, optional lengths) or .csv (sequence, time, features)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--output", help="write the predictions as CSV here (default: stdout)")

    p = sub.add_parser("summary", help="per-layer parameter table of a model")
    p.add_argument("source", nargs="?", help="a TOML config, a run folder or a checkpoint")
    add_model_flags(p)
    p.add_argument("--input-size", type=int, default=9, help="features per step (default 9)")
    p.add_argument(
        "--num-classes", type=int, help="classes (default 6; 10 for image models)"
    )  # fmt: skip
    p.add_argument(
        "--input-shape", type=shape_arg, default=(1, 28, 28),
        help="H,W or C,H,W of one image, for image models (default 1,28,28)",
    )  # fmt: skip

    p = sub.add_parser("list", help="registered cells, models, datasets, studies and recipes")
    p.add_argument("what", nargs="?", choices=("cells", "models", "datasets", "studies", "recipes"))

    p = sub.add_parser("data", help="datasets: list, download, path")
    p.add_argument("action", choices=("list", "download", "path"))
    p.add_argument("name", nargs="?")
    p.add_argument("--data-root")
    p.add_argument("--force", action="store_true", help="download again even if present")

    from nnzoo.experiments import experiments
    from nnzoo.experiments.options import add_recipe_arguments

    studies = ", ".join(e.name for e in experiments("study"))
    p = sub.add_parser("study", help=f"run a course experiment: {studies}")
    p.add_argument("study", help=studies)
    p.add_argument("options", nargs=argparse.REMAINDER, help="the study's options (see --help)")

    p = sub.add_parser("reproduce", help="regenerate a published table")
    p.add_argument("recipe", help=" | ".join(e.name for e in experiments("recipe")))
    add_recipe_arguments(p)
    for recipe in experiments("recipe"):  # the recipes share one parser, each adds its flags
        recipe.add_arguments(p)

    p = sub.add_parser("report", help="rebuild a run's (or study's) report; compare runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (or one study folder)")
    p.add_argument("--out", help="where a comparison goes (default: runs/compare-<digest>)")

    p = sub.add_parser("search", help="hyperparameter search on Optuna (resumes when re-run)")
    p.add_argument("config", help="a run config plus a [search] table (see nnzoo.search)")
    p.add_argument("--out", help="search folder (default: runs/search-<config stem>)")
    p.add_argument("--storage", help="a shared study: sqlite:///PATH or postgresql://...")
    p.add_argument("--create", action="store_true", help="create the shared study and exit")
    p.add_argument("--worker", action="store_true", help="run trials of a shared study")
    p.add_argument("--focus-from", metavar="DIR|URL", help="round 1 to focus round 2 on")
    p.add_argument("--focus-study", metavar="NAME", help="round 1's study name, with a URL")
    p.add_argument("--data-root")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    return parser


# -- commands ---------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from nnzoo.config import load_config
    from nnzoo.runs.train import default_run_dir, train_run

    config = load_config(args.config, overrides_from(args))
    run_dir = Path(args.out) if args.out else default_run_dir(config)
    results = train_run(
        config,
        run_dir,
        data_root=args.data_root,
        fresh=args.fresh,
        progress=False if args.quiet else None,
    )
    print(
        f"{run_dir}: test accuracy {results['test']['accuracy']:.4f} at epoch "
        f"{results['selected_epoch']} (picked by {results['monitor']}); "
        f"final epoch {results['final_epoch_test']['accuracy']:.4f}; "
        f"report: {run_dir / 'report.md'}"
    )
    return 0


def find_checkpoint(path: str, which: str = "best") -> Path:
    p = Path(path)
    if p.is_dir():
        candidate = p / "checkpoints" / f"{which}.pt"
        if not candidate.exists() and which == "best":
            candidate = p / "checkpoints" / "last.pt"
        if not candidate.exists():
            raise NnzooError(
                f"{p}: no checkpoints/{which}.pt; is it a run folder of `nnzoo train`?"
            )
        return candidate
    if not p.exists():
        raise NnzooError(f"{p}: no such run folder or checkpoint")
    return p


def load_trained(path: str, which: str = "best"):
    """(model, checkpoint dict) from a run folder or checkpoint file."""
    from nnzoo.engine.checkpoint import CheckpointError, load_checkpoint
    from nnzoo.models import create_model

    ckpt_path = find_checkpoint(path, which)
    ckpt = load_checkpoint(ckpt_path)
    extra = ckpt.get("extra", {})
    config = ckpt["run_config"]
    model = create_model(
        config.model, extra["num_features"], len(extra["class_names"]), extra.get("input_shape")
    )
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt_path}: weights do not fit the model ({e})") from None
    model.eval()
    return model, ckpt, ckpt_path


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nnzoo.config import RunConfig
    from nnzoo.report.markdown import classification_table, confusion_table, write_atomic
    from nnzoo.report.plots import plot_confusion
    from nnzoo.runs.train import full_evaluation, load_splits

    model, ckpt, ckpt_path = load_trained(args.run, args.checkpoint)
    config: RunConfig = ckpt["run_config"]
    if args.data_path:
        config = config.replace(data=dataclasses.replace(config.data, path=args.data_path))
    splits = load_splits(config, args.data_root)
    data = {"test": splits.test, "val": splits.val, "train": splits.train}[args.split]
    result = full_evaluation(model, data, splits.class_names)
    # a run's checkpoint: <run>/evaluation/; a loose checkpoint: <name>-evaluation/ beside it
    if ckpt_path.parent.name == "checkpoints":
        out = ckpt_path.parent.parent / "evaluation"
    else:
        out = ckpt_path.with_name(f"{ckpt_path.stem}-evaluation")
    png = plot_confusion(
        result["confusion"], splits.class_names, out / f"confusion-{args.split}.png",
        title=f"{args.split}, epoch {ckpt['epoch']}",
    )  # fmt: skip
    write_atomic(out / f"{args.split}.json", json.dumps(result, indent=2) + "\n")
    print(f"{args.split} accuracy {result['accuracy']:.4f} ({ckpt_path}, epoch {ckpt['epoch']})")
    print()
    print(classification_table(result["report"]))
    print()
    print(confusion_table(result["confusion"], splits.class_names))
    print(f"\nconfusion matrix: {png}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from nnzoo.data.base import SequenceSet, scale
    from nnzoo.data.sequences import read_unlabelled
    from nnzoo.engine.fit import predict

    model, ckpt, _ = load_trained(args.run, args.checkpoint)
    extra = ckpt["extra"]
    x, lengths, ids = read_unlabelled(args.input, extra["num_features"])
    data = SequenceSet(x.float(), torch.zeros(len(x), dtype=torch.long), lengths)
    stats = extra.get("standardize") or {}
    if stats:  # as the training data was
        data = scale(data, torch.tensor(stats["mean"]), torch.tensor(stats["std"]))
    probs = predict(model, data)
    names = extra["class_names"]
    lines = ["sequence,class,probability"]
    for seq_id, row in zip(ids, probs):
        k = int(row.argmax())
        lines.append(f"{seq_id},{names[k]},{float(row[k]):.6f}")
    text = "\n".join(lines) + "\n"
    if args.output:
        from nnzoo.report.markdown import write_atomic

        write_atomic(args.output, text)
        print(f"{len(ids)} predictions written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def shape_arg(text: str) -> tuple[int, ...]:
    """``28,28`` or ``1,28,28`` -> a tuple of sizes."""
    try:
        return tuple(int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes like 1,28,28") from None


def cmd_summary(args: argparse.Namespace) -> int:
    from nnzoo.config import load_config
    from nnzoo.models import create_model, model_options, takes_input_shape
    from nnzoo.models.summary import summary

    source = Path(args.source) if args.source else None
    if source is not None and (source.is_dir() or source.suffix == ".pt"):
        model, ckpt, _ = load_trained(str(source))
        title = ckpt["run_config"].model
    else:
        config = load_config(source, overrides_from(args))
        image = takes_input_shape(config.model.name)
        classes = args.num_classes if args.num_classes is not None else (10 if image else 6)
        model = create_model(config.model, args.input_size, classes, args.input_shape)
        title = config.model
    if title.name == "sequence-classifier":
        print(f"{title.name}: cell {title.cell}, hidden {title.hidden}, layers {title.layers}")
    else:
        options = ", ".join(f"{k} {v}" for k, v in model_options(title).items())
        print(f"{title.name}: {options or 'default options'}")
    print(summary(model))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from nnzoo.cells import list_cells
    from nnzoo.data import list_datasets
    from nnzoo.experiments import list_experiments
    from nnzoo.models import list_models

    groups = {"cells": list_cells(), "models": list_models(), "datasets": list_datasets()}
    groups |= {"studies": list_experiments("study"), "recipes": list_experiments("recipe")}
    for what, names in groups.items():
        if args.what in (None, what):
            print(f"{what}: {', '.join(names)}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from nnzoo.data import DOWNLOADS, GENERATED, data_root, list_datasets

    root = data_root(args.data_root)
    if args.action == "list":
        for name in list_datasets():
            where = root / name
            if name in GENERATED:  # drawn from a seed: nothing to find under the data root
                print(f"{name:16s} {'generated':9s} {'no file needed':20s} -")
                continue
            state = "present" if where.exists() else "absent"
            how = "downloadable" if name in DOWNLOADS else "bring your own file"
            print(f"{name:16s} {state:9s} {how:20s} {where}")
        return 0
    if args.action == "path":
        print(root if not args.name else root / args.name)
        return 0
    if not args.name:
        raise ConfigError("nnzoo data download: expected a dataset name, e.g. uci-har")
    from nnzoo.data.download import download

    for path in download(args.name, root, force=args.force):
        print(path)
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    from nnzoo.experiments import get_experiment
    from nnzoo.experiments.folder import run_study

    study = get_experiment(args.study, "study")
    p = Parser(prog=f"nnzoo study {study.name}", description=study.help)
    study.add_arguments(p)
    options = p.parse_args(args.options)
    options.study = study.name
    options.argv = ["study", args.study, *args.options]  # the command, as typed
    run_study(study, options)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from nnzoo.experiments import get_experiment

    return get_experiment(args.recipe, "recipe").run(args)


def cmd_report(args: argparse.Namespace) -> int:
    from nnzoo.report.rebuild import report

    written = report(args.runs, args.out)
    print(f"wrote {' and '.join(str(p) for p in written)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from nnzoo.search import run_search

    command = ["nnzoo", "search", args.config]
    for flag in ("out", "storage", "focus_from", "focus_study", "data_root"):
        if getattr(args, flag):
            command += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    command += [f"--set={item}" for item in args.set]
    command += [f"--{flag}" for flag in ("create", "worker") if getattr(args, flag)]
    run_search(
        args.config, out=args.out, storage=args.storage, create=args.create,
        worker=args.worker, focus_from=args.focus_from, focus_study=args.focus_study,
        data_root=args.data_root, overrides=args.set, command=" ".join(command),
    )  # fmt: skip
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "summary": cmd_summary,
    "list": cmd_list,
    "data": cmd_data,
    "study": cmd_study,
    "reproduce": cmd_reproduce,
    "report": cmd_report,
    "search": cmd_search,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except NnzooError as e:
        print(f"nnzoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnzoo: interrupted", file=sys.stderr)
        return 130
