r"""``nnzoo reproduce jsb-chorales``: the 1->N shape, polyphonic music on JSB Chorales.

The RNN lecture's one-to-many network writes a sequence from a start. This recipe trains
next-step models on the 382 Bach chorales of Boulanger-Lewandowski et al. (2012) at quarter-note
steps (`nnzoo.data.music`, ``jsb-chorales-quarter.json``, train / valid / test as published,
88 keys A0..C8, not transposed) and scores them as the literature does: the frame-level
negative log-likelihood per time step,

.. math::
    \mathrm{NLL} = -\frac{1}{N} \sum_{\text{test steps } t} \sum_{k=1}^{88}
        \big[x_{t+1,k} \log \sigma(z_{tk}) + (1 - x_{t+1,k}) \log (1 - \sigma(z_{tk}))\big]

in nats, every test step weighted equally (``next-step`` task, multi-hot).

Each model is a `nnzoo.models.generator.Generator` (the step's keys embedded as the sum of
their rows, one recurrent layer, a sigmoid per key) of about ``PARAMETERS`` parameters, Bai,
Kolter & Koltun's (2018) size: tanh RNN (``elman``), GRU, LSTM and LARNN, each at the width
`width_for` finds. Adam, batch 16, early stopping on the validation NLL, ``--seeds`` seeds;
the checkpoint with the lowest validation NLL is tested once. Published (test NLL): RNN 8.91,
LSTM 8.45, GRU 8.43, TCN 8.10 (Bai et al. 2018, ~300K parameters); GRU 8.54 (Chung et al.
2014); RNN 8.71 (Boulanger-Lewandowski et al. 2012). Target: the best recurrent model
<= 8.30.

A second corpus, character by character: an LSTM (``ABC_HIDDEN``) on the Nottingham folk
tunes in ABC notation (`nnzoo.data.music`, a seeded 80 / 10 / 10 split of the tunes), scored in
bits per character (its categorical NLL / ln 2) on validation and test, with ``TUNES`` tunes
sampled from ``X:`` (``--no-abc`` leaves it out).

Writes ``jsb-chorales.json``, ``jsb-chorales.md`` / ``.html``, the training curves and two
generated pieces (MIDI + piano roll, `nnzoo.runs.generate`) from the best model into ``--out``
(default results/); runs go to ``--runs`` (default runs/jsb-chorales) and are picked up when
finished.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import check_common, fill_data_root, parse_list
from nnzoo.experiments.sections import recipe_provenance
from nnzoo.io import write_atomic
from nnzoo.report.markdown import table, write_report
from nnzoo.utils.environment import provenance

NAME = "jsb-chorales"
HELP = "one-to-many: polyphonic music, test NLL per step of RNN, GRU, LSTM and LARNN"
STEM = NAME
KEYS = 88
PARAMETERS = 300_000
EPOCHS = 300
PATIENCE = 20
QUICK_EPOCHS = 2
CELLS = {"elman": "tanh RNN", "gru": "GRU", "lstm": "LSTM", "larnn": "LARNN"}
CELL_OPTIONS = {"larnn": {"window": 8, "num_heads": 4}}
PUBLISHED = {
    "elman": "8.91 (Bai 2018), 8.71 (Boulanger-Lewandowski 2012)",
    "gru": "8.43 (Bai 2018), 8.54 (Chung 2014)",
    "lstm": "8.45 (Bai 2018)",
    "larnn": "",
}
TARGET = 8.30
PIECES = (("C4,E4,G4", 0), ("A3,C4,E4", 1))  # the generated pieces: start chord, seed
ABC_HIDDEN = 256
ABC_EPOCHS = 30
ABC_PATIENCE = 5
TUNES = 3  # sampled ABC tunes, seeds 0..2
TUNE_CHARS = 600  # the most characters a sampled tune runs to (it stops at <eos>)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cells", default=",".join(CELLS),
        help=f"comma-separated, of {', '.join(CELLS)} (default: all)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, help="seeds per model (default 3)")
    p.add_argument(
        "--abc", action=argparse.BooleanOptionalAction, default=True,
        help="also the character-level LSTM on the Nottingham ABC tunes (default: on)",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_EPOCHS} epochs, one seed, small models (a smoke test; no target)",
    )  # fmt: skip


def model_options(cell: str, hidden: int) -> dict[str, Any]:
    options: dict[str, Any] = {"cell": cell, "hidden": hidden, "embedding": hidden, "layers": 1}
    if cell in CELL_OPTIONS:
        options["cell_options"] = dict(CELL_OPTIONS[cell])
    return options


def width_for(cell: str, parameters: int) -> int:
    """The hidden width (= embedding width) whose generator has the fewest parameters at or
    above ``parameters`` (a multiple of 4, so every LARNN head has the same width)."""
    import torch

    from nnzoo.models import MODELS
    from nnzoo.models.summary import count_parameters

    def count(hidden: int) -> int:
        with torch.device("meta"):
            model = MODELS.create("generator", KEYS, KEYS, **model_options(cell, hidden))
        return count_parameters(model)

    hidden = 4
    while count(hidden) < parameters:
        hidden += 4
    return hidden


def run_config(cell: str, seed: int, args: argparse.Namespace) -> RunConfig:
    hidden = 16 if args.quick else width_for(cell, PARAMETERS)
    return RunConfig(
        data=DataConfig(name="jsb-chorales"),
        model=ModelConfig(name="generator", options=model_options(cell, hidden)),
        train=TrainConfig(
            seed=seed, epochs=args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS),
            batch_size=16, optimizer="adam", lr=1e-3, monitor="val_loss",
            early_stopping=PATIENCE, clip_norm=1.0, threads=args.threads,
        ),
        task=TaskConfig("next-step", {"kind": "multi-hot"}),
    )  # fmt: skip


def abc_config(args: argparse.Namespace) -> RunConfig:
    hidden = 16 if args.quick else ABC_HIDDEN
    options = {"cell": "lstm", "hidden": hidden, "embedding": 64, "layers": 1}
    return RunConfig(
        data=DataConfig(name="nottingham-abc"),
        model=ModelConfig(name="generator", options=options),
        train=TrainConfig(
            seed=0, epochs=args.epochs or (QUICK_EPOCHS if args.quick else ABC_EPOCHS),
            batch_size=32, optimizer="adam", lr=2e-3, monitor="val_loss",
            early_stopping=ABC_PATIENCE, clip_norm=1.0, threads=args.threads,
        ),
        task=TaskConfig("next-step", {"kind": "categorical"}),
    )  # fmt: skip


def abc_row(done: dict[str, Any], out: Path) -> dict[str, Any]:
    """The ABC run's bits per character and its sampled tunes (written into ``out``)."""
    from nnzoo.runs.generate import generate

    r = done["results"]
    tunes = []
    for seed in range(TUNES):
        made = generate(Path(done["run_dir"]), start="X:", steps=TUNE_CHARS, seed=seed,
                        out=out / f"{STEM}-abc-tune-s{seed}")  # fmt: skip
        tunes.append({"seed": seed, "file": made.paths[0].name, "text": made.text})
    return {
        "run": done["run_dir"],
        "params": r["params"],
        "val_bpc": r["selected_val"]["val_loss"] / math.log(2),
        "test_bpc": r["test"]["loss"] / math.log(2),
        "test_accuracy": r["test"]["accuracy"],
        "selected_epoch": r["selected_epoch"],
        "epochs_run": r["epochs_run"],
        "data": {k: r["data_info"][k] for k in ("validation", "test") if k in r["data_info"]},
        "tunes": tunes,
    }


def reproduce(args: argparse.Namespace) -> int:
    from nnzoo.experiments.plan import run_tasks

    check_common(args)
    fill_data_root(args)
    cells = parse_list("--cells", args.cells)
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise ConfigError(f"--cells: {', '.join(unknown)} unknown; expected {', '.join(CELLS)}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds}: expected an integer >= 1")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs={args.epochs}: expected an integer >= 1")
    out = Path(args.out or "results")
    runs = Path(args.runs or "runs/jsb-chorales")
    seeds = range(1 if args.quick else args.seeds)
    tasks = [
        {"key": f"{cell}/{seed}", "config": run_config(cell, seed, args),
         "run_dir": str(runs / cell / str(seed)), "data_root": args.data_root,
         "threads": args.threads}
        for cell in cells for seed in seeds
    ]  # fmt: skip
    if args.abc:
        tasks.append({"key": "abc/0", "config": abc_config(args), "run_dir": str(runs / "abc"),
                      "data_root": args.data_root, "threads": args.threads})  # fmt: skip
    done = run_tasks(tasks, args.jobs)
    out.mkdir(parents=True, exist_ok=True)
    abc = abc_row(done.pop(), out) if args.abc else None
    tasks = tasks[: len(done)]
    rows: dict[str, dict[str, Any]] = {}
    for task, d in zip(tasks, done):
        cell = task["key"].split("/")[0]
        r = d["results"]
        row = rows.setdefault(
            cell,
            {
                "title": CELLS[cell],
                "runs": [],
                "params": r["params"],
                "hidden": task["config"].model.options["hidden"],
            },
        )
        row["runs"].append({
            "run": d["run_dir"], "test_nll": r["test"]["loss"],
            "val_nll": r["selected_val"]["val_loss"], "selected_epoch": r["selected_epoch"],
            "epochs_run": r["epochs_run"],
            "seconds": sum(h.get("seconds", 0.0) for h in d["history"]),
            "history": [{k: h[k] for k in ("epoch", "loss", "val_loss") if k in h}
                        for h in d["history"]],
        })  # fmt: skip
    for row in rows.values():
        nll = [run["test_nll"] for run in row["runs"]]
        row["mean"] = statistics.fmean(nll)
        row["sd"] = statistics.stdev(nll) if len(nll) > 1 else None
        row["val_mean"] = statistics.fmean(run["val_nll"] for run in row["runs"])
    # the best model and its best seed, both by the validation NLL; then their test numbers
    best_cell = min(rows, key=lambda c: rows[c]["val_mean"])
    best_run = min(rows[best_cell]["runs"], key=lambda run: run["val_nll"])
    pieces = generate_pieces(Path(best_run["run"]), out)
    record = {
        "recipe": NAME,
        **provenance(),
        "quick": bool(args.quick),
        "seeds": len(seeds),
        "results": rows,
        "best": {"cell": best_cell, "run": best_run["run"]},
        "pieces": pieces,
        "abc": abc,
        "targets": [{
            "target": f"best recurrent model (by validation NLL): test NLL <= {TARGET:g}",
            "value": f"{rows[best_cell]['mean']:.3f} ({CELLS[best_cell]})",
            "met": rows[best_cell]["mean"] <= TARGET,
        }],
    }  # fmt: skip
    write_atomic(out / f"{STEM}.json", json.dumps(record, indent=2) + "\n")
    path = write_report_from(out, record)
    print(f"wrote {path} and {out / (STEM + '.json')}")
    return 0


def generate_pieces(run_dir: Path, out: Path) -> list[dict[str, Any]]:
    """Two pieces of 64 steps from the best run, as MIDI and piano-roll PNG in ``out``."""
    from nnzoo.runs.generate import generate

    pieces = []
    for start, seed in PIECES:
        stem = out / f"{STEM}-piece-s{seed}"
        made = generate(run_dir, start=start, steps=64, seed=seed, out=stem)
        midi, png = (next(p.name for p in made.paths if p.suffix == s) for s in (".mid", ".png"))
        pieces.append({"start": start, "seed": seed, "midi": midi, "png": png})
    return pieces


def write_report_from(out: Path, record: dict[str, Any]) -> Path:
    from nnzoo.report.plots import plot_compare

    rows = record["results"]
    protocol = (
        "JSB Chorales at quarter-note steps, the published train / valid / test split (229 / "
        "76 / 77 chorales), 88 keys, not transposed. Test NLL: the frame-level negative "
        "log-likelihood per time step in nats, summed over the 88 keys, every test step "
        f"weighted equally. One recurrent layer of about {PARAMETERS:,} parameters per model, "
        f"Adam 1e-3, batch 16, early stopping on the validation NLL, {record['seeds']} seed(s); "
        "the checkpoint with the lowest validation NLL is tested once."
    )
    if record.get("quick"):
        protocol += "\n\n**Quick run** (`--quick`): tiny models, two epochs; no target."
    body = [
        [r["title"], f"{r['params']:,}", r["hidden"], f"{r['val_mean']:.3f}",
         f"{r['mean']:.3f}" + ("" if r["sd"] is None else f" ± {r['sd']:.3f}"),
         ", ".join(f"{run['test_nll']:.3f}" for run in r["runs"]),
         PUBLISHED.get(cell, "")]
        for cell, r in rows.items()
    ]  # fmt: skip
    headers = ["model", "parameters", "width", "val NLL (mean)", "test NLL (mean ± sd)",
               "test, per seed", "published (test)"]  # fmt: skip
    sections = [("Protocol", protocol), ("Test NLL per step", table(body, headers))]
    marks = [[t["target"], t["value"], "met" if t["met"] else "MISSED"] for t in record["targets"]]
    sections.append(("Target", table(marks, ["target", "nnzoo", ""])))
    curves = {r["title"]: r["runs"][0]["history"] for r in rows.values()}
    png = plot_compare(curves, "val_loss", out / f"{STEM}-curves.png",
                       title="validation NLL per step (first seed)")  # fmt: skip
    sections.append(("Training curves", f"![validation NLL]({png.name})"))
    best = record["best"]
    pieces = "\n\n".join(
        f"Start {p['start']}, seed {p['seed']}: [{p['midi']}]({p['midi']})\n\n"
        f"![piano roll]({p['png']})"
        for p in record["pieces"]
    )
    sections.append((f"Generated pieces ({CELLS[best['cell']]}, the seed with the lowest "
                     "validation NLL)", pieces))  # fmt: skip
    abc = record.get("abc")
    if abc:
        tunes = "\n\n".join(
            f"Seed {t['seed']} ([{t['file']}]({t['file']})):\n\n```\n{t['text']}\n```"
            for t in abc["tunes"]
        )
        sections.append((
            "Folk tunes, character by character (Nottingham ABC)",
            f"An LSTM ({abc['params']:,} parameters) on the tunes' characters, "
            f"{abc['data'].get('test', '')}; validation {abc['data'].get('validation', '')}. "
            f"Validation {abc['val_bpc']:.3f} bits per character, test {abc['test_bpc']:.3f} "
            f"(next-character accuracy {abc['test_accuracy']:.1%}), epoch "
            f"{abc['selected_epoch']} of {abc['epochs_run']}. Three tunes sampled from `X:` "
            f"(temperature 1, at most {TUNE_CHARS} characters):\n\n{tunes}",
        ))  # fmt: skip
    sections.append(recipe_provenance(record))
    return write_report(out / f"{STEM}.md", "JSB Chorales: polyphonic music, one to many",
                        sections)  # fmt: skip


EXPERIMENT = register(
    Experiment(
        NAME, "recipe", HELP, add_arguments, reproduce, record=f"{STEM}.json",
        rebuild=write_report_from,
    )
)  # fmt: skip
