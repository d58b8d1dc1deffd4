r"""``nnzoo reproduce translation``: the M->N shape, English <-> Spanish on Tatoeba, on a CPU.

The RNN lecture's many-to-many network reads a sentence and writes another. This recipe trains
encoder-decoders from scratch on the Tatoeba pairs (``<data root>/spa-eng-tatoeba/spa-eng.zip``
as published, `nnzoo.data.tatoeba`), pairs of at most ``MAX_WORDS`` words on both sides, split
80 / 10 / 10 with seed 0 and grouped by the source sentence (no source sentence in two splits,
its duplicates together), vocabularies from the training split (tokens seen twice or more):

==================  ==========================================================================
es-en-attention     `nnzoo.models.seq2seq`: a bidirectional GRU encoder, a GRU decoder with
                    Luong (general) attention over the encoder outputs
es-en-plain         the same without attention (the decoder sees the mean encoder state)
en-es-attention     the attention model the other way
es-en-transformer   `nnzoo.models.transformer.TransformerSeq2Seq` of comparable size
en-es-transformer   the same the other way
==================  ==========================================================================

Every run is a ``seq2seq`` run (teacher forcing, the mean cross-entropy per target token),
Adam, gradient norm clipped at 1, early stopping on the validation loss; the checkpoint with the
lowest validation loss is tested once, decoding with beam search (beam ``BEAM``, length penalty
0.6). The test part is scored with sacrebleu's corpus BLEU and chrF against the original target
sentences, both sides case-folded as the vocabulary is (so the scores are case-insensitive;
sacrebleu's signature is printed). Nothing is chosen on the test part.

Tutorials on this corpus publish no BLEU (the KerasHub one reports ROUGE-1 0.58 on 30
sentences); strong multilingual models reach BLEU 57-62 on Tatoeba. Target: es->en BLEU >= 35
on test sentences of up to 10 words, from a model trained on this machine's CPU in under 2
hours; the es->en run it applies to is the one with the lowest validation loss.

Every run also stops before an epoch that would end past ``TIME_LIMIT`` minutes of training
(`nnzoo.engine.callbacks.TimeLimit`): one budget for every model, so that the GRU and the
Transformer are compared at the same CPU time, and the table's last column says which rule
stopped each run.

Writes ``translation.json`` and ``translation.md`` / ``.html`` into ``--out`` (default results/);
the runs go to ``--runs`` (default runs/translation), and a repeated command picks up the
finished runs and resumes a killed one from its last checkpoint (every epoch is one). A command
with ``--models`` adds its rows to the record already in ``--out`` when that record was made
under the same protocol (the same split, budget and ``--quick``), replacing rows of the same
run, so the table can be trained a few models at a time on machines that do not keep their run
folders; every row keeps the command and date that trained it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import check_common, fill_data_root, parse_list
from nnzoo.experiments.sections import recipe_provenance, trained_by, trained_by_section
from nnzoo.io import write_atomic
from nnzoo.report.markdown import table, write_report
from nnzoo.utils.environment import provenance

NAME = "translation"
HELP = "many-to-many: English <-> Spanish on Tatoeba, GRU with / without attention, Transformer"
STEM = NAME
MAX_WORDS = 10
BEAM = 4
HIDDEN = 256
EPOCHS = 12
PATIENCE = 2
TIME_LIMIT = 60  # minutes of training per run
QUICK_EPOCHS = 1
QUICK_PAIRS = 3000
TARGET_BLEU = 35.0
TARGET_SECONDS = 2 * 3600
RECURRENT = {"cell": "gru", "bidirectional": True, "layers": 1, "hidden": HIDDEN,
             "embedding": HIDDEN}  # fmt: skip
TRANSFORMER = {"embedding": HIDDEN, "heads": 4, "layers": 2, "feedforward": 2 * HIDDEN,
               "dropout": 0.1}  # fmt: skip
# run key -> (title, direction, model, options)
RUNS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "es-en-attention": ("GRU + attention", "es-en", "seq2seq",
                        {**RECURRENT, "attention": "luong"}),
    "es-en-plain": ("GRU, no attention", "es-en", "seq2seq", {**RECURRENT, "attention": "none"}),
    "en-es-attention": ("GRU + attention", "en-es", "seq2seq",
                        {**RECURRENT, "attention": "luong"}),
    "es-en-transformer": ("Transformer", "es-en", "transformer-seq2seq", dict(TRANSFORMER)),
    "en-es-transformer": ("Transformer", "en-es", "transformer-seq2seq", dict(TRANSFORMER)),
}  # fmt: skip
TARGET_DIRECTION = "es-en"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--models", default=",".join(RUNS),
        help=f"comma-separated runs, of {', '.join(RUNS)} (default: all, in this order)",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_EPOCHS} epoch on the first {QUICK_PAIRS} pairs (a smoke test)",
    )  # fmt: skip


def run_config(key: str, args: argparse.Namespace) -> RunConfig:
    _, direction, model, options = RUNS[key]
    data: dict[str, Any] = {"direction": direction, "max_words": MAX_WORDS, "min_freq": 2}
    if args.quick:
        data["limit"] = QUICK_PAIRS
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    return RunConfig(
        data=DataConfig(name="tatoeba", options=data),
        model=ModelConfig(name=model, options=dict(options)),
        train=TrainConfig(
            seed=0, epochs=epochs, batch_size=64, optimizer="adam", lr=1e-3,
            monitor="val_loss", early_stopping=PATIENCE, clip_norm=1.0, threads=args.threads,
            checkpoint_every=1, time_limit=0 if args.quick else TIME_LIMIT,
        ),
        task=TaskConfig("seq2seq", {"beam": BEAM}),
    )  # fmt: skip


def reproduce(args: argparse.Namespace) -> int:
    from nnzoo.experiments.plan import run_tasks

    check_common(args)
    fill_data_root(args)
    keys = parse_list("--models", args.models)
    unknown = [k for k in keys if k not in RUNS]
    if unknown:
        raise ConfigError(f"--models: {', '.join(unknown)} unknown; expected {', '.join(RUNS)}")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs={args.epochs}: expected an integer >= 1")
    out = Path(args.out or "results")
    runs = Path(args.runs or "runs/translation")
    tasks = [
        {"key": k, "config": run_config(k, args), "run_dir": str(runs / k),
         "data_root": args.data_root, "threads": args.threads}
        for k in keys
    ]  # fmt: skip
    done = run_tasks(tasks, args.jobs)
    rows = {}
    for key, d in zip(keys, done):
        r, history = d["results"], d["history"]
        trained = d["provenance"] or provenance()  # its provenance.json; an older folder: ours
        test = r["test"]
        rows[key] = {
            "title": RUNS[key][0],
            "direction": RUNS[key][1],
            "model": RUNS[key][2],
            "options": RUNS[key][3],
            "run": d["run_dir"],
            "params": r["params"],
            "epochs_run": r["epochs_run"],
            "selected_epoch": r["selected_epoch"],
            "val_loss": r["selected_val"]["val_loss"],
            "train_seconds": sum(h.get("seconds", 0.0) for h in history),
            **{k: test[k] for k in ("bleu", "chrf", "bleu_signature", "chrf_signature",
                                    "decoding", "loss", "token_accuracy", "sequence_accuracy")},
            "best": test.get("best", []),
            "worst": test.get("worst", []),
            "data": r["data_info"],
            "stop_reason": r["stop_reason"],
            **{k: trained[k] for k in ("command", "machine", "date")},
        }  # fmt: skip
        print(f"{key}: {r['test']['bleu_signature']}")
    record = {"recipe": NAME, **provenance(), "quick": bool(args.quick), "runs": rows}
    record["protocol"] = protocol_of(record)
    record["runs"] = {**earlier_rows(out / f"{STEM}.json", record), **rows}
    record["runs"] = {k: record["runs"][k] for k in RUNS if k in record["runs"]}
    record["targets"] = targets(record["runs"])
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / f"{STEM}.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    path = write_report_from(out, record)
    print(f"wrote {path} and {out / (STEM + '.json')}")
    return 0


def protocol_of(record: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for two records' rows to share a table: the pairs (each direction's
    seeded split and vocabularies follow from them), the decoding, the budget and ``quick``."""
    first = next(iter(record["runs"].values()))
    return {
        "pairs": first["data"]["pairs"],  # the split of each direction follows, seeded
        "decoding": first["decoding"],
        "time_limit_minutes": 0 if record["quick"] else TIME_LIMIT,
        "early_stopping": PATIENCE,
        "quick": record["quick"],
    }


def earlier_rows(path: Path, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows of the record at ``path`` when it was made under ``record``'s protocol; none
    (and a line saying so) when it was not, or when there is no such record."""
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        rows = old["runs"]
        protocol = old.get("protocol") or protocol_of(old | {"quick": old.get("quick", False)})
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as e:
        raise ConfigError(
            f"{path}: not a translation record ({e}); move it away, or pass another --out"
        ) from None
    if protocol != record["protocol"]:
        print(f"{path}: made under another protocol; its rows are replaced, not kept")
        return {}
    if "protocol" not in old:  # written before the time limit: keep the runs that fit in it
        rows = {k: v for k, v in rows.items() if v["train_seconds"] <= TIME_LIMIT * 60}
    # rows written before they kept their own provenance have their record's
    made = {k: old[k] for k in ("command", "machine", "date") if k in old}
    return {k: {**made, **v} for k, v in rows.items() if k in RUNS}


def targets(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets, met or missed by the es->en run with the lowest validation loss (the runs
    of one direction share the split and the target vocabulary, so their losses compare): the
    model is chosen on validation, never on its test BLEU."""
    pool = [r for r in rows.values() if r["direction"] == TARGET_DIRECTION]
    if not pool:
        return []
    row = min(pool, key=lambda r: r["val_loss"])
    return [
        {
            "target": f"es->en test BLEU >= {TARGET_BLEU:g} (sentences of <= {MAX_WORDS} words)",
            "value": f"{row['bleu']:.1f} ({row['title']}, the lowest validation loss)",
            "met": row["bleu"] >= TARGET_BLEU,
        },
        {
            "target": "trained on this CPU in under 2 hours",
            "value": f"{row['train_seconds'] / 60:.0f} min ({row['title']})",
            "met": row["train_seconds"] < TARGET_SECONDS,
        },
    ]


def stopped_by(reason: str) -> str:
    """The rules that stopped a run, without their details: "early stopping; time limit"."""
    return "; ".join(part.split(":")[0] for part in reason.split("; "))


def write_report_from(out: Path, record: dict[str, Any]) -> Path:
    rows = record["runs"]
    first = next(iter(rows.values()), None)
    data = first["data"] if first else {}
    splits = {}  # per direction: the groups are the source sentences
    for r in rows.values():
        d = r["data"]
        splits.setdefault(r["direction"], (
            f"{r['direction']}: test {d['test']}; validation {d['validation']}; train "
            f"{d['train']}; vocabularies {d['vocabulary']}."
        ))  # fmt: skip
    protocol = (
        f"Tatoeba English-Spanish, pairs of at most {MAX_WORDS} words on both sides: "
        f"{data.get('pairs', '')}. Split 80 / 10 / 10 per direction, grouped by the source "
        "sentence:\n\n" + "\n".join(f"- {line}" for line in splits.values()) + "\n\n"
        "Every run: seq2seq, teacher forcing, "
        "Adam 1e-3, batch 64, gradient norm clipped at 1, early stopping on the validation "
        "loss; the checkpoint with the lowest validation loss is tested once with beam search. "
        "BLEU and chrF by sacrebleu on the test part, against the original target sentences, "
        "both case-folded as the vocabulary is (case-insensitive scores)."
    )
    if record.get("quick"):
        protocol += "\n\n**Quick run** (`--quick`): a tiny budget; no target is expected."
    else:
        protocol += (
            f" Budget: at most {TIME_LIMIT} minutes of training per run on one CPU core (no "
            f"epoch started that would end past it), at most {EPOCHS} epochs, early stopping "
            f"after {PATIENCE} epochs without a better validation loss."
        )
    headers = ["run", "direction", "parameters", "test BLEU", "test chrF", "val loss",
               "epoch selected / run", "training (min)", "stopped by", "trained"]  # fmt: skip
    body = [
        [r["title"], r["direction"], f"{r['params']:,}", f"{r['bleu']:.1f}", f"{r['chrf']:.1f}",
         f"{r['val_loss']:.3f}", f"{r['selected_epoch']} / {r['epochs_run']}",
         f"{r['train_seconds'] / 60:.1f}", stopped_by(r.get("stop_reason", "not recorded")),
         r.get("date", record["date"])]
        for r in rows.values()
    ]  # fmt: skip
    results = table(body, headers)
    signatures = sorted({(r["bleu_signature"], r["chrf_signature"]) for r in rows.values()})
    results += "\n\nsacrebleu: " + "; ".join(f"`{b}`, `{c}`" for b, c in signatures)
    decodings = sorted({r["decoding"] for r in rows.values()})
    results += f"\n\nDecoding: {', '.join(decodings)}."
    sections = [("Protocol", protocol), ("Test scores", results)]
    marks = [[t["target"], t["value"], "met" if t["met"] else "MISSED"] for t in record["targets"]]
    if marks:
        sections.append(("Targets", table(marks, ["target", "nnzoo", ""])))
    for r in rows.values():
        examples = [[e["source"], e["target"], e["decoded"], f"{e['chrf']:.0f}"]
                    for e in (*r["best"][:4], *r["worst"][:4])]  # fmt: skip
        if examples:
            sections.append((
                f"Example test translations: {r['title']}, {r['direction']} (the best and the "
                "worst by sentence chrF)",
                table(examples, ["source", "reference", "translation", "chrF"]),
            ))  # fmt: skip
    sections.append(recipe_provenance(record))
    made = [{k: r.get(k, record[k]) for k in ("command", "machine", "date")} for r in rows.values()]
    by = trained_by_section(trained_by(made), record)
    sections += [by] if by else []  # rows trained by several commands, maybe on several machines
    return write_report(out / f"{STEM}.md", "Translation: English and Spanish on Tatoeba",
                        sections)  # fmt: skip


EXPERIMENT = register(
    Experiment(
        NAME, "recipe", HELP, add_arguments, reproduce, record=f"{STEM}.json",
        rebuild=write_report_from,
    )
)  # fmt: skip
