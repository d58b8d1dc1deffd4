"""The ``nnzoo`` command line.

    nnzoo train [CONFIG.toml] [--cell larnn --hidden 64 ...]   train (or resume) a run
    nnzoo evaluate RUN_DIR|CHECKPOINT [--split test]           metrics, confusion matrix
    nnzoo predict RUN_DIR|CHECKPOINT INPUT.npz|INPUT.csv       class + probability per sequence
    nnzoo predict RUN_DIR image.jpg [...] | FOLDER [--sheet S.png]   images: a sentence / id,label
    nnzoo predict RUN_DIR "what a great phone" [...]          text: the class and its probability
    nnzoo translate RUN_DIR "¿Dónde está la biblioteca?" [--beam 4]   a seq2seq run on text
    nnzoo generate RUN_DIR --start "C4,E4,G4" [--steps 64 --seed 0]   MIDI / text of a next-step run
    nnzoo summary [CONFIG.toml|RUN_DIR|CHECKPOINT]             per-layer parameter table
    nnzoo list [cells|models|datasets|splits|tasks|studies|recipes]
    nnzoo data list | download NAME | path
    nnzoo study lr-sweep [--lrs 1,0.1 ...]                     a study (nnzoo list studies)
    nnzoo reproduce larnn-har [--quick]
    nnzoo reproduce larnn-har-search [--trials 10,6 --epochs 3 --train-windows 1500]
    nnzoo report RUN_DIR... [--out DIR]                        rebuild a report; compare runs
    nnzoo search CONFIG.toml [--storage URL --create|--worker]  hyperparameter search (Optuna)
    nnzoo bench CONFIG.toml [--steps 20]                       training throughput vs torch.nn.LSTM
    torchrun --nproc-per-node N -m nnzoo train ...             data-parallel training (DDP)

Errors a user can cause print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from nnzoo.config import SECTIONS, ModelOptions, field_default, field_docs, parse_override
from nnzoo.errors import ConfigError, NnzooError

# -- config flags -----------------------------------------------------------------------------
# `nnzoo train` has a flag for every field of [data], [model] (with the ModelOptions it may
# hold) and [train] (`nnzoo summary` for [model]'s): --<field> with dashes for underscores, or
# the name below. Its help is the field's
# documentation (`nnzoo.config.field_docs`) and shows the dataclass default; its dest is the
# config path ("train.lr"), None unless the flag is given, so an unset flag changes nothing.
# Tables (options, cell_options) are reached by --set and --cell-option.
FLAG_NAMES = {
    "data.name": "data", "data.path": "data-path", "model.name": "model", "task.name": "task",
}  # fmt: skip
GROUP_TITLES = {
    "data": "data ([data])",
    "model": "model ([model]: the name, then sequence-classifier's options; any model's options "
    "by --set model.options.KEY=VALUE)",
    "train": "training ([train])",
    "task": "task ([task])",
}
TEST_PATH_HELP = (
    "the test set of your own data (--data sequences), a file in the format of --data-path; "
    "sets data.options.test_path (default: none, a stratified data.options.test_fraction of "
    "--data-path is held out)"
)
TRAIN_DESCRIPTION = """\
Train a model, or resume an unfinished run. The config is the defaults, then CONFIG.toml, then
the flags; a flag that is not given changes nothing. The flags of the data, model and training
groups are the fields of nnzoo.config's tables, with their documentation and defaults; --set reaches
the rest (tables such as data.options and model.options)."""
TRAIN_EPILOG = """\
your own data, with its official test split:
  nnzoo train --data sequences --data-path train.npz --test-path test.npz"""


LISTS = ("cells", "models", "datasets", "splits", "tasks", "studies", "recipes")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def shown(value: object) -> str:
    """A default as --help shows it, as a TOML config would (strings bare unless empty, or
    unless they would read as another type: "32")."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        from nnzoo.config import parse_value

        return value if value and isinstance(parse_value(value), str) else f'"{value}"'
    return repr(value)


def add_config_flags(p: argparse.ArgumentParser, section: str) -> argparse._ArgumentGroup:
    """A group of flags, one per field of the config table ``section`` that is not a table
    (for [model], also one per `nnzoo.config.ModelOptions` field, which [model] may hold)."""
    group = p.add_argument_group(GROUP_TITLES[section])
    classes = [SECTIONS[section], *([ModelOptions] if section == "model" else [])]
    for cls in classes:
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            default = field_default(f)
            if isinstance(default, dict):
                continue  # a table: --set
            path = f"{section}.{f.name}"
            option = "--" + FLAG_NAMES.get(path, f.name.replace("_", "-"))
            doc = docs.get(f.name, "").rstrip(".")
            rule = f.metadata.get("range")
            accepts = f"; {rule.describe(isinstance(default, int))}" if rule else ""
            text = f"{doc} (default: {shown(default)}{accepts})".replace("%", "%%")
            if isinstance(default, bool):
                action = argparse.BooleanOptionalAction
                group.add_argument(option, dest=path, action=action, default=None, help=text)
            else:
                group.add_argument(
                    option, dest=path, type=type(default), default=None,
                    metavar=f.name.upper(), help=text,
                )  # fmt: skip
    return group


def add_set_flag(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any config value, tables included, e.g. data.options.val_fraction=0.1 "
        "(repeatable; applied after the other flags)",
    )


def add_model_flags(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = add_config_flags(p, "model")
    group.add_argument(
        "--cell-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a cell option, e.g. window=38 (repeatable; sets model.options.cell_options.KEY)",
    )
    return group


def values_from(args: argparse.Namespace) -> list[tuple[str, object]]:
    """The config values given on the command line, as (config path, typed value) pairs in the
    order they apply: the flags, then --cell-option, then --set. Unset flags change nothing."""
    out = [(key, value) for key, value in vars(args).items() if "." in key and value is not None]
    out += [parse_override(f"model.cell_options.{item}") for item in args.cell_option]
    out += [parse_override(item) for item in args.set]
    return out


def add_run_config_flags(
    p: argparse.ArgumentParser, title: str
) -> tuple[argparse._ArgumentGroup, argparse._ArgumentGroup]:
    """A run config as `nnzoo train` takes it: an optional TOML file, a flag per field of
    [data], [model], [train] and [task], --set and --data-root (in a group ``title``).
    Returns the [data] group and that group, for the command's own flags."""
    from nnzoo.data import DATA_ROOT_HELP

    p.add_argument("config", nargs="?", help="a TOML config ([data], [model], [train])")
    data = add_config_flags(p, "data")
    add_model_flags(p)
    add_config_flags(p, "train")
    add_config_flags(p, "task")
    group = p.add_argument_group(title)
    add_set_flag(group)
    group.add_argument("--data-root", help=DATA_ROOT_HELP)
    return data, group


def build_parser() -> Parser:
    from nnzoo.data import DATA_ROOT_HELP

    parser = Parser(prog="nnzoo", description="Train, compare and explain deep networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser(
        "train", help="train a model (resumes an unfinished run)",
        description=TRAIN_DESCRIPTION, epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    data, run = add_run_config_flags(p, "run")
    data.add_argument("--test-path", dest="data.options.test_path", metavar="FILE",
                      help=TEST_PATH_HELP)  # fmt: skip
    run.add_argument("--out", help="run folder (default: runs/<data>-<cell>-s<seed>-<digest>)")
    run.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix")
    p.add_argument("run", help="a run folder or a checkpoint file")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--data-path", help="read the split from this file or folder instead")

    p = sub.add_parser("predict", help="class and probability for each sequence or image")
    p.add_argument("run", help="a run folder or a checkpoint file")
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help=".npz (X, optional lengths) or .csv (sequence, time, features); for a model "
        "trained on images: image files, or a folder of them (a Kaggle-style id,label CSV); "
        "on text: texts (\"what a great phone\"), or a .txt file of one text a line",
    )  # fmt: skip
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--output", help="write the predictions as CSV here (default: stdout)")
    p.add_argument("--sheet", help="images: also draw a contact sheet of the predictions (PNG)")

    p = sub.add_parser("summary", help="per-layer parameter table of a model")
    p.add_argument("source", nargs="?", help="a TOML config, a run folder or a checkpoint")
    add_set_flag(add_model_flags(p))
    p.add_argument("--input-size", type=int, default=9, help="features per step (default 9)")
    p.add_argument(
        "--num-classes", type=int, help="classes (default 6; 10 for image models)"
    )  # fmt: skip
    p.add_argument(
        "--input-shape", type=shape_arg, default=(1, 28, 28),
        help="H,W or C,H,W of one image, for image models (default 1,28,28)",
    )  # fmt: skip

    p = sub.add_parser(
        "list", help="registered cells, models, datasets, splits, tasks, studies and recipes"
    )
    p.add_argument("what", nargs="?", choices=LISTS)

    p = sub.add_parser("data", help="datasets: list, download, path")
    p.add_argument("action", choices=("list", "download", "path"))
    p.add_argument("name", nargs="?")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--force", action="store_true", help="download again even if present")

    from nnzoo.experiments import experiments

    studies = ", ".join(e.name for e in experiments("study"))
    p = sub.add_parser("study", help=f"run a course experiment: {studies}")
    p.add_argument("study", help=studies)
    p.add_argument("options", nargs=argparse.REMAINDER, help="the study's options (see --help)")

    recipes = ", ".join(e.name for e in experiments("recipe"))
    p = sub.add_parser("reproduce", help=f"regenerate a published table: {recipes}")
    p.add_argument("recipe", help=recipes)
    p.add_argument("options", nargs=argparse.REMAINDER, help="the recipe's options (see --help)")

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
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="a value of the run config every trial starts from, e.g. train.epochs=2 (repeatable)",
    )  # fmt: skip

    from nnzoo.runs.translate import add_parser as add_translate_parser

    add_translate_parser(sub)
    from nnzoo.runs.generate import add_parser as add_generate_parser

    add_generate_parser(sub)
    from nnzoo.runs.bench import add_parser as add_bench_parser

    add_bench_parser(sub)
    return parser


# -- commands ---------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from nnzoo.config import load_config
    from nnzoo.runs.rundir import RunDir
    from nnzoo.runs.train import default_run_dir, train_run
    from nnzoo.tasks import create_task

    config = load_config(args.config, values=values_from(args))
    run_dir = Path(args.out) if args.out else default_run_dir(config)
    results = train_run(
        config,
        run_dir,
        data_root=args.data_root,
        fresh=args.fresh,
        progress=False if args.quiet else None,
    )
    if "rank" in results:  # another rank of a torchrun job: rank 0 reports
        return 0
    line = create_task(config.task).run_line(results)
    print(f"{run_dir}: {line}; report: {RunDir(run_dir).report}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nnzoo.config import RunConfig
    from nnzoo.io import write_json
    from nnzoo.runs.rundir import RunDir
    from nnzoo.runs.train import load_splits
    from nnzoo.runs.trained import load_trained
    from nnzoo.tasks import create_task

    model, ckpt, ckpt_path = load_trained(args.run, args.checkpoint)
    config: RunConfig = ckpt["run_config"]
    if args.data_path:
        config = config.replace(data=dataclasses.replace(config.data, path=args.data_path))
    splits = load_splits(config, args.data_root)
    data = {"test": splits.test, "val": splits.val, "train": splits.train}[args.split]
    task = create_task(config.task)
    result = task.test(model, data, ckpt["extra"])
    # a run's checkpoint: <run>/evaluation/; a loose checkpoint: <name>-evaluation/ beside it
    if ckpt_path.parent.name == RunDir.checkpoints.name:
        out = RunDir(ckpt_path.parent.parent).evaluation
    else:
        out = ckpt_path.with_name(f"{ckpt_path.stem}-evaluation")
    title = f"{args.split}, epoch {ckpt['epoch']}"
    text = task.evaluation(result, ckpt["extra"], out, args.split, title)
    write_json(out / f"{args.split}.json", result)
    print(f"{ckpt_path}, epoch {ckpt['epoch']}")
    print(text)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from nnzoo.io import WriteError, check_writable, write_atomic, write_error
    from nnzoo.runs.trained import load_trained
    from nnzoo.tasks import create_task

    hint = "pass another --output (a file path), or leave it out to print to stdout"
    if args.output:
        check_writable(args.output, folder=False, hint=hint)  # before any work
    if args.sheet:
        sheet_hint = "pass another --sheet (a .png file path)"
        check_writable(args.sheet, folder=False, hint=sheet_hint)
        if len(args.inputs) > 1 or not Path(args.sheet).suffix.lower() == ".png":
            raise ConfigError(f"--sheet={args.sheet}: expected one input and a .png file name")
    model, ckpt, _ = load_trained(args.run, args.checkpoint)
    task = create_task(ckpt["run_config"].task)
    sheet = Path(args.sheet) if args.sheet else None
    texts = [task.predict_file(model, i, ckpt["extra"], sheet) for i in args.inputs]
    text = texts[0] if len(texts) == 1 else "".join(texts)
    if args.output:
        try:
            write_atomic(args.output, text)
        except WriteError as e:
            hint = f"free some space, or {hint}" if e.no_space else hint
            raise write_error(args.output, e.reason or "it cannot be written", hint) from None
        print(f"{text.count(chr(10)) - 1} predictions written to {args.output}")
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
    from nnzoo.runs.trained import load_trained

    source = Path(args.source) if args.source else None
    if source is not None and (source.is_dir() or source.suffix == ".pt"):
        model, ckpt, _ = load_trained(str(source))
        title = ckpt["run_config"].model
    else:
        config = load_config(source, values=values_from(args))
        image = takes_input_shape(config.model.name)
        classes = args.num_classes if args.num_classes is not None else (10 if image else 6)
        model = create_model(config.model, args.input_size, classes, args.input_shape)
        title = config.model
    if title.name == "sequence-classifier":
        cell, hidden, layers = (title.option(k) for k in ("cell", "hidden", "layers"))
        print(f"{title.name}: cell {cell}, hidden {hidden}, layers {layers}")
    else:
        options = ", ".join(f"{k} {v}" for k, v in model_options(title).items())
        print(f"{title.name}: {options or 'default options'}")
    print(summary(model))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from nnzoo.cells import list_cells
    from nnzoo.data import list_datasets, list_splits
    from nnzoo.experiments import list_experiments
    from nnzoo.models import list_models
    from nnzoo.tasks import TASKS

    groups = {"cells": list_cells(), "models": list_models(), "datasets": list_datasets()}
    groups |= {"splits": list_splits(), "tasks": TASKS.names()}
    groups |= {"studies": list_experiments("study"), "recipes": list_experiments("recipe")}
    for what, names in groups.items():
        if args.what in (None, what):
            print(f"{what}: {', '.join(names)}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from nnzoo.data import DOWNLOADS, GENERATED, data_root, list_datasets
    from nnzoo.data.registry import dataset_folder

    root = data_root(args.data_root)
    if args.action == "list":
        for name in list_datasets():
            where = dataset_folder(root, name)
            if name in GENERATED:  # drawn from a seed: nothing to find under the data root
                print(f"{name:16s} {'generated':9s} {'no file needed':20s} -")
                continue
            state = "present" if where.exists() else "absent"
            how = "downloadable" if name in DOWNLOADS else "bring your own file"
            print(f"{name:16s} {state:9s} {how:20s} {where}")
        return 0
    if args.action == "path":
        print(root if not args.name else dataset_folder(root, args.name))
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
    from nnzoo.experiments.options import add_recipe_arguments

    recipe = get_experiment(args.recipe, "recipe")
    p = Parser(prog=f"nnzoo reproduce {recipe.name}", description=recipe.help)
    add_recipe_arguments(p)  # the flags every recipe takes, then its own
    recipe.add_arguments(p)
    options = p.parse_args(args.options)
    options.recipe = recipe.name
    options.argv = ["reproduce", args.recipe, *args.options]  # the command, as typed
    return recipe.run(options)


def cmd_report(args: argparse.Namespace) -> int:
    from nnzoo.report.rebuild import report

    written = report(args.runs, args.out)
    print(f"wrote {' and '.join(str(p) for p in written)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from nnzoo.config import read_toml
    from nnzoo.search import run_search

    command = ["nnzoo", "search", args.config]
    for flag in ("out", "storage", "focus_from", "focus_study", "data_root"):
        if getattr(args, flag):
            command += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    command += [f"--set={item}" for item in args.set]
    command += [f"--{flag}" for flag in ("create", "worker") if getattr(args, flag)]
    run_search(
        read_toml(args.config), name=Path(args.config).stem, source=args.config, out=args.out,
        storage=args.storage, create=args.create, worker=args.worker,
        focus_from=args.focus_from, focus_study=args.focus_study, data_root=args.data_root,
        overrides=args.set, command=" ".join(command),
    )  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from nnzoo.runs.generate import cmd_generate as generate

    return generate(args)


def cmd_translate(args: argparse.Namespace) -> int:
    from nnzoo.runs.translate import cmd_translate as translate

    return translate(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from nnzoo.runs.bench import cmd_bench as bench

    return bench(args)


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
    "translate": cmd_translate,
    "generate": cmd_generate,
    "bench": cmd_bench,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except NnzooError as e:
        print(f"nnzoo: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a write nnzoo did not expect to fail (a full disk): still one line
        from nnzoo.io import as_write_error

        error = as_write_error(e)
        if error is None:
            raise
        print(f"nnzoo: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnzoo: interrupted", file=sys.stderr)
        return 130
