"""Speed of every cell against torch.nn.LSTM, in one process, as ratios (not a test).

For each shape (B, H) at T=128, I=9, 2 layers: forward+backward time and inference time per
batch of ``Recurrent(cell)`` and of ``torch.nn.LSTM`` (the reference), median of ``--repeats``
runs after ``--warmup`` runs. LARNN is measured at each window k in ``--windows``.

    python benchmarks/cells.py            # full run -> results/cells.json, results/cells.md
    python benchmarks/cells.py --quick    # small shapes, a minute, -> runs/bench/cells-quick.*

Timings on a shared CPU are noisy: the run uses one thread by default (``--threads``), and
re-executes itself once with glibc malloc settings that stop torch.nn.LSTM from alternating
between page-faulting and not (MALLOC_MMAP_THRESHOLD_ and friends, recorded in the results).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

import nnzoo
from nnzoo.utils.environment import provenance

MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "536870912",
}
# ratio to torch.nn.LSTM, forward+backward, that each cell should reach
TARGETS = {"lstm": 1.1, "gru": 1.1, "elman": 1.1, "peephole-lstm": 2.0, "gru-relevance": 2.0,
           "bn-lstm": 2.0, "larnn": 5.0}  # fmt: skip
ROOT = Path(__file__).resolve().parents[1]
# the torch.nn module computing the same cell: the floor of the fused path
NATIVE = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "elman": torch.nn.RNN}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 128])
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--input", type=int, default=9)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--windows", type=int, nargs="+", default=[16, 38])
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--cells", nargs="+", default=None, help="default: every registered cell")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=None, help="folder for cells.json / cells.md")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.hidden, args.seq, args.windows = [32], [32], 32, [16]
        args.repeats, args.warmup = 3, 1
    if args.out is None:
        args.out = ROOT / ("runs/bench" if args.quick else "results")
    return args


def timed_pair(fn_ref, fn, repeats: int, warmup: int, device: str) -> tuple[float, float]:
    """Median milliseconds of ``fn_ref()`` and ``fn()``, timed alternately run by run.

    Alternating the reference and the cell spreads the machine's drift (other processes, page
    faults, frequency changes) over both, so their ratio is steadier than either time.
    """
    for _ in range(warmup):
        fn_ref()
        fn()
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for index, f in enumerate((fn_ref, fn)):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            f()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[index].append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(reference, model, x, args) -> dict:
    """Forward+backward and inference milliseconds of ``reference`` and ``model``."""

    def train_step(m):
        def run():
            m.zero_grad(set_to_none=True)
            m(x)[0].sum().backward()

        return run

    def infer(m):
        def run():
            with torch.inference_mode():
                m(x)

        return run

    reference.train()
    model.train()
    ref_train, train = timed_pair(
        train_step(reference), train_step(model), args.repeats, args.warmup, args.device
    )
    reference.eval()
    model.eval()
    ref_infer, infer_ms = timed_pair(
        infer(reference), infer(model), args.repeats, args.warmup, args.device
    )
    return {"ref_train": ref_train, "train": train, "ref_infer": ref_infer, "infer": infer_ms}


def models(args, hidden: int):
    """(label, cell name, options, module) for every cell to measure."""
    names = args.cells or nnzoo.list_cells()
    for name in names:
        variants = [{"window": k, "num_heads": args.heads} for k in args.windows]
        for options in variants if name == "larnn" else [{}]:
            label = name + "".join(f" k={v}" for k, v in options.items() if k == "window")
            module = nnzoo.Recurrent(name, args.input, hidden, num_layers=args.layers, **options)
            yield label, name, options, module


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for batch in args.batch:
        for hidden in args.hidden:
            x = torch.randn(batch, args.seq, args.input, device=args.device)
            reference = torch.nn.LSTM(args.input, hidden, args.layers, batch_first=True)
            reference.to(args.device)
            print(f"B={batch} H={hidden}", flush=True)
            for label, name, options, module in models(args, hidden):
                module.to(args.device)
                t = measure(reference, module, x, args)
                ref_train, ref_infer = t["ref_train"], t["ref_infer"]
                train_ms, infer_ms = t["train"], t["infer"]
                native_ms = None
                if name in NATIVE and name != "lstm":
                    native = NATIVE[name](args.input, hidden, args.layers, batch_first=True)
                    native_ms = round(
                        measure(reference, native.to(args.device), x, args)["train"], 2
                    )
                target = TARGETS.get(name)
                ratio = train_ms / ref_train
                rows.append({
                    "batch": batch, "hidden": hidden, "cell": name, "label": label,
                    "options": options, "fused_kernel": module.uses_fused_kernel,
                    "train_ms": round(train_ms, 2), "infer_ms": round(infer_ms, 2),
                    "lstm_train_ms": round(ref_train, 2), "lstm_infer_ms": round(ref_infer, 2),
                    "train_ratio": round(ratio, 2), "infer_ratio": round(infer_ms / ref_infer, 2),
                    "target_train_ratio": target, "torch_same_kind_train_ms": native_ms,
                    "meets_target": None if target is None else ratio <= target,
                })  # fmt: skip
                line = f"  {label:18s} {train_ms:8.1f} ms ({ratio:5.2f}x)"
                print(
                    f"{line}  infer {infer_ms:7.1f} ms ({infer_ms / ref_infer:5.2f}x)", flush=True
                )
    header = provenance(args.device)
    header.update({
        "threads": args.threads, "device": args.device, "seq": args.seq, "input": args.input,
        "layers": args.layers, "heads": args.heads, "repeats": args.repeats,
        "warmup": args.warmup,
        "malloc": {k: os.environ.get(k) for k in MALLOC_ENV},
    })  # fmt: skip
    return {**header, "results": rows}


def markdown(report: dict) -> str:
    lines = [
        "# Cell speed against torch.nn.LSTM",
        "",
        f"- command: `{report['command']}`",
        f"- machine: {report['machine']}; device {report['device']}, {report['threads']} thread(s)",
        f"- torch {report['torch']}, python {report['python']}, {report['date']}",
        f"- T={report['seq']}, I={report['input']}, {report['layers']} layers, "
        f"median of {report['repeats']} runs after {report['warmup']} warm-up runs",
        f"- glibc malloc settings: {report['malloc']}",
        "",
        "Ratios are time / torch.nn.LSTM time at the same shape, in the same process: the "
        "reference and the cell are timed alternately, run by run, and each median is taken.",
        "",
        "The fused kernel column gives, for gru and elman, the fwd+bwd time of torch.nn.GRU / RNN "
        "themselves: the floor of a path that hands the work to torch's kernel.",
        "",
        "| B | H | cell | fused kernel (torch.nn same kind, ms) | fwd+bwd ms | torch.nn.LSTM ms "
        "| ratio | target | met | inference ms | torch.nn.LSTM ms | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        met = {None: "", True: "yes", False: "**no**"}[r["meets_target"]]
        target = "" if r["target_train_ratio"] is None else f"<= {r['target_train_ratio']}"
        lines.append(
            f"| {r['batch']} | {r['hidden']} | {r['label']} | {fused_column(r)}"
            f" | {r['train_ms']} | {r['lstm_train_ms']} | {r['train_ratio']} | {target} | {met} "
            f"| {r['infer_ms']} | {r['lstm_infer_ms']} | {r['infer_ratio']} |"
        )
    missed = [r for r in report["results"] if r["meets_target"] is False]
    lines += ["", f"Targets met: {sum(r['meets_target'] is True for r in report['results'])}, "
              f"missed: {len(missed)}."]  # fmt: skip
    if missed:
        lines.append("Missed: " + "; ".join(
            f"{r['label']} at B={r['batch']} H={r['hidden']} ({r['train_ratio']}x > "
            f"{r['target_train_ratio']}x)" for r in missed) + ".")  # fmt: skip
    return "\n".join(lines) + "\n"


def fused_column(row: dict) -> str:
    if not row["fused_kernel"]:
        return ""
    native = row["torch_same_kind_train_ms"]
    return "yes" if native is None else f"yes ({native})"


def main(argv=None) -> None:
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()) and argv is None:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "cells-quick" if args.quick else "cells"
    if args.threads != 1 and not args.quick:
        stem += f"-threads{args.threads}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    print(f"wrote {args.out / stem}.json and .md")


if __name__ == "__main__":
    main()
