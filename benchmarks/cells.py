"""Speed of every cell against torch.nn.LSTM, in one process, as ratios (not a test).

For each shape (B, H) at T=128, I=9, 2 layers: forward+backward time and inference time per
batch of ``Recurrent(cell)`` and of ``torch.nn.LSTM`` (the reference), median of ``--repeats``
runs after ``--warmup`` runs. LARNN is measured at each window k in ``--windows``.

    python benchmarks/cells.py            # full run -> results/cells.json, results/cells.md
    python benchmarks/cells.py --quick    # small shapes, a minute, -> runs/bench/cells-quick.*

Each shape is measured with every sequence at full length and with variable lengths (seeded,
uniform in [T/2, T]). The reference is always torch.nn.LSTM on the padded batch at full length,
the floor a user gets by ignoring the lengths; the variable-length rows also give torch.nn's
own module of the cell's kind (LSTM, GRU) reading the PackedSequence, the path torch offers for
lengths. Each row names the path nnzoo took: torch's kernel or the hand-written scan.
``--paper`` adds the LARNN at the paper's configuration (H = 81, 27 heads, k = 38, 3 layers,
B = 256) in seconds per batch and per UCI HAR epoch (7352 training windows).

Timings on a shared CPU are noisy: the run uses one thread by default (``--threads``), and
re-executes itself once with glibc malloc settings that stop torch.nn.LSTM from alternating
between page-faulting and not (MALLOC_MMAP_THRESHOLD_ and friends, recorded in the results).

The run checks what it really ran with: the threads of ATen, OpenMP, MKL and oneDNN as
``torch.__config__.parallel_info()`` reports them (it stops if they differ from ``--threads``),
and the matmul rate of this CPU at those threads (the best of several large sgemms on each of
torch's CPU kernels, MKL's and oneDNN's: on AMD CPUs MKL runs AVX2 code at half oneDNN's
rate). Every row gives its GFLOP/s (matmul FLOPs counted by ``torch.utils.flop_counter`` for
one batch, over its time); a table whose torch.nn.LSTM reference runs faster than the matmul
rate cannot be right (a timer or thread count is off), so it is not written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.flop_counter import FlopCounterMode

import nnzoo
from nnzoo.utils.environment import provenance

MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "536870912",
}
# ratio to torch.nn.LSTM, forward+backward, that each cell should reach
TARGETS = {"lstm": 1.1, "gru": 1.6, "elman": 1.1, "peephole-lstm": 1.6, "gru-relevance": 1.6,
           "bn-lstm": 1.6, "larnn k=16": 3.0}  # fmt: skip
UCI_HAR_TRAIN = 7352  # training windows of UCI HAR: batches of 256 per epoch = ceil(7352 / 256)
PAPER = {"hidden": 81, "num_heads": 27, "window": 38, "layers": 3, "batch": 256}
PAPER_EPOCH_TARGET_S = 40.0
# Allowed excess of the reference's GFLOP/s over the measured matmul rate (timer resolution,
# the matmul rate's own noise); beyond it the table is refused.
RATE_TOLERANCE = 1.05
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
    p.add_argument(
        "--lengths",
        nargs="+",
        default=["full", "variable"],
        choices=["full", "variable"],
        help="full-length and/or variable-length rows",
    )
    p.add_argument(
        "--paper",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the LARNN at the paper's configuration",
    )
    p.add_argument("--out", type=Path, default=None, help="folder for cells.json / cells.md")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.hidden, args.seq, args.windows = [32], [32], 32, [16]
        args.repeats, args.warmup, args.paper = 3, 1, False
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


def call(m, x, lengths):
    """``m``'s outputs for the batch: torch.nn modules read a PackedSequence when the lengths
    vary; nnzoo's take the lengths."""
    if lengths is None:
        return m(x)[0]
    if isinstance(m, torch.nn.RNNBase):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return m(packed)[0].data
    return m(x, lengths=lengths)[0]


GATES = {"lstm": 4, "gru": 3, "elman": 1}  # weight blocks of torch.nn's fused kinds


def rnn_flops(
    gates: int, input_size: int, hidden: int, layers: int, steps: int, batch: int, train: bool
) -> int:
    """Matmul FLOPs of a torch.nn-style RNN over ``steps`` valid steps (batch x time) of a
    batch of ``batch`` sequences whose input needs no gradient. Forward, per layer and step:
    2 * gates*H * (I_layer + H). Backward: the weights' gradients as many again, and the
    inputs' and states' gradients as many again except the first layer's input and each
    layer's initial state, which need none. Counted by hand because torch's fused kernels are
    invisible to torch.utils.flop_counter (the tests check the count against it on the scan)."""
    gh = 2 * gates * hidden
    forward = sum(gh * ((input_size if i == 0 else hidden) + hidden) * steps for i in range(layers))
    if not train:
        return forward
    return 3 * forward - gh * input_size * steps - gh * hidden * batch * layers


def matmul_flops(m, x, lengths, train: bool) -> int:
    """The matmul FLOPs of one batch (forward, plus backward when ``train``)."""
    kind = next((k for k, t in NATIVE.items() if type(m) is t), None)
    if kind is None and getattr(m, "cell", None) in GATES:
        kind = m.cell  # nnzoo.Recurrent of a torch.nn kind, on the kernel or its scan
    if kind is not None:
        steps = int(lengths.sum()) if lengths is not None else x.shape[0] * x.shape[1]
        size, hidden, layers = m.input_size, m.hidden_size, m.num_layers
        return rnn_flops(GATES[kind], size, hidden, layers, steps, x.shape[0], train)
    m.train(train)
    with FlopCounterMode(display=False) as counter:
        if train:
            call(m, x, lengths).sum().backward()
            m.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                call(m, x, lengths)
    return counter.get_total_flops()


def matmul_rate(threads: int, size: int = 1024, repeats: int = 7) -> float:
    """GFLOP/s of this CPU's fastest sgemm at the current thread count: the best of
    ``repeats`` runs of each kernel torch has, MKL's (``torch.mm``) and oneDNN's (the one
    torch.nn.LSTM uses on CPU). They differ by 2x on some CPUs: on AMD's, MKL runs its AVX2
    code where oneDNN runs AVX-512, so MKL's rate alone is no bound on torch.nn.LSTM."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    kernels = [lambda: a @ b]
    pointwise = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if pointwise is not None and torch.backends.mkldnn.is_available():
        bt = b.t().contiguous()
        kernels.append(lambda: pointwise(a, bt, None, "none", [], ""))
    best = math.inf
    for kernel in kernels:
        kernel()
        for _ in range(repeats):
            start = time.perf_counter()
            kernel()
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def thread_counts() -> dict[str, int]:
    """The threads ATen, OpenMP, MKL and oneDNN really use, from torch's own report."""
    info = torch.__config__.parallel_info()
    out = {}
    for key, pattern in (("aten", r"at::get_num_threads\(\) : (\d+)"),
                         ("openmp", r"omp_get_max_threads\(\) : (\d+)"),
                         ("mkl", r"mkl_get_max_threads\(\) : (\d+)")):  # fmt: skip
        found = re.search(pattern, info)
        if found:
            out[key] = int(found.group(1))
    # oneDNN (MKL-DNN) runs on the OpenMP pool: it has no count of its own to report
    out["onednn (openmp pool)"] = out.get("openmp", torch.get_num_threads())
    return out


def measure(reference, model, x, args, lengths=None) -> dict:
    """Forward+backward and inference milliseconds of ``reference`` (at full length) and
    ``model`` (with ``lengths``)."""

    def train_step(m, lengths):
        def run():
            m.zero_grad(set_to_none=True)
            call(m, x, lengths).sum().backward()

        return run

    def infer(m, lengths):
        def run():
            with torch.inference_mode():
                call(m, x, lengths)

        return run

    reference.train()
    model.train()
    ref_train, train = timed_pair(
        train_step(reference, None), train_step(model, lengths), args.repeats, args.warmup,
        args.device,
    )  # fmt: skip
    reference.eval()
    model.eval()
    ref_infer, infer_ms = timed_pair(
        infer(reference, None), infer(model, lengths), args.repeats, args.warmup, args.device
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


def variable_lengths(batch: int, seq: int) -> torch.Tensor:
    """Seeded lengths uniform in [T/2, T], one of them T (so the batch's T stays T)."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(seq // 2, seq + 1, (batch,), generator=gen)
    lengths[0] = seq
    return lengths


def gflops(flops: int, ms: float) -> float:
    return round(flops / (ms / 1000) / 1e9, 2)


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    threads = thread_counts()
    wrong = {k: v for k, v in threads.items() if v != args.threads}
    if args.device == "cpu" and wrong:
        raise SystemExit(
            f"asked for {args.threads} thread(s) but torch runs {wrong}; unset "
            "OMP_NUM_THREADS / MKL_NUM_THREADS or pass --threads to match"
        )
    rate = matmul_rate(args.threads) if args.device == "cpu" else None
    print(f"threads {threads}; sgemm {rate and round(rate, 1)} GFLOP/s", flush=True)
    torch.manual_seed(0)
    rows = []
    for batch in args.batch:
        for hidden in args.hidden:
            x = torch.randn(batch, args.seq, args.input, device=args.device)
            reference = torch.nn.LSTM(args.input, hidden, args.layers, batch_first=True)
            reference.to(args.device)
            for kind in args.lengths:
                lengths = variable_lengths(batch, args.seq) if kind == "variable" else None
                print(f"B={batch} H={hidden} {kind} lengths", flush=True)
                ref_flops = (matmul_flops(reference, x, None, True),
                             matmul_flops(reference, x, None, False))  # fmt: skip
                for label, name, options, module in models(args, hidden):
                    module.to(args.device)
                    rows.append(row(args, reference, module, x, lengths, ref_flops,
                                    batch, hidden, kind, label, name, options))  # fmt: skip
    paper = paper_row(args) if args.paper else None
    header = provenance(args.device)
    header.update({
        "threads": args.threads, "threads_in_use": threads, "sgemm_gflops": rate and round(rate, 1),
        "device": args.device, "seq": args.seq, "input": args.input,
        "layers": args.layers, "heads": args.heads, "repeats": args.repeats,
        "warmup": args.warmup,
        "malloc": {k: os.environ.get(k) for k in MALLOC_ENV},
    })  # fmt: skip
    return {**header, "results": rows, "paper_larnn": paper}


def row(args, reference, module, x, lengths, ref_flops, batch, hidden, kind, label, name,
        options) -> dict:  # fmt: skip
    """One cell at one shape: its times, ratios, GFLOP/s and target."""
    t = measure(reference, module, x, args, lengths)
    ref_train, ref_infer = t["ref_train"], t["ref_infer"]
    train_ms, infer_ms = t["train"], t["infer"]
    flops = (matmul_flops(module, x, lengths, True), matmul_flops(module, x, lengths, False))
    native_ms = None
    if name in NATIVE and (name != "lstm" or lengths is not None):
        native = NATIVE[name](args.input, hidden, args.layers, batch_first=True)
        native_ms = round(measure(reference, native.to(args.device), x, args, lengths)["train"], 2)
    target = TARGETS.get(label)
    ratio = train_ms / ref_train
    line = f"  {label:18s} {train_ms:8.1f} ms ({ratio:5.2f}x)"
    print(f"{line}  infer {infer_ms:7.1f} ms ({infer_ms / ref_infer:5.2f}x)", flush=True)
    return {
        "batch": batch, "hidden": hidden, "lengths": kind, "cell": name, "label": label,
        "options": options, "path": "kernel" if module.kernel_path(x, lengths) else "scan",
        "train_ms": round(train_ms, 2), "infer_ms": round(infer_ms, 2),
        "lstm_train_ms": round(ref_train, 2), "lstm_infer_ms": round(ref_infer, 2),
        "train_ratio": round(ratio, 2), "infer_ratio": round(infer_ms / ref_infer, 2),
        "train_gflops": gflops(flops[0], train_ms), "infer_gflops": gflops(flops[1], infer_ms),
        "lstm_train_gflops": gflops(ref_flops[0], ref_train),
        "lstm_infer_gflops": gflops(ref_flops[1], ref_infer),
        "target_train_ratio": target, "torch_same_kind_train_ms": native_ms,
        "meets_target": None if target is None else ratio <= target,
        "profile": profile_row(module, x, lengths) if target and ratio > target else None,
    }  # fmt: skip


def paper_row(args) -> dict:
    """The LARNN of the paper's UCI HAR model (its recurrent stack), one batch of 256."""
    torch.manual_seed(0)
    B, H = PAPER["batch"], PAPER["hidden"]
    x = torch.randn(B, args.seq, H, device=args.device)  # the 81-wide projection's output
    module = nnzoo.Recurrent("larnn", H, H, num_layers=PAPER["layers"], residual=True,
                             window=PAPER["window"], num_heads=PAPER["num_heads"])  # fmt: skip
    module.to(args.device).train()
    repeats = max(1, min(args.repeats, 3))

    def step():
        module.zero_grad(set_to_none=True)
        module(x)[0].sum().backward()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    batches = math.ceil(UCI_HAR_TRAIN / B)
    epoch = seconds * batches
    print(f"paper LARNN: {seconds:.2f} s per batch, {epoch:.0f} s per UCI HAR epoch", flush=True)
    return {
        **PAPER, "seconds_per_batch": round(seconds, 3), "batches_per_epoch": batches,
        "seconds_per_epoch": round(epoch, 1), "target_seconds_per_epoch": PAPER_EPOCH_TARGET_S,
        "meets_target": epoch <= PAPER_EPOCH_TARGET_S, "repeats": repeats,
    }  # fmt: skip


def profile_row(module, x, lengths, top: int = 6) -> dict:
    """Where one fwd+bwd batch of ``module`` spends its time: torch.profiler's ATen ops by self
    CPU time, the number of op calls and their mean cost (what bounds a scan at small H)."""
    from torch.profiler import ProfilerActivity, profile

    module.train()
    call(module, x, lengths).sum().backward()  # warm-up
    module.zero_grad(set_to_none=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        call(module, x, lengths).sum().backward()
    module.zero_grad(set_to_none=True)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total_us = sum(e.self_cpu_time_total for e in events)
    calls = sum(e.count for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return {
        "aten_calls": calls, "aten_self_ms": round(total_us / 1000, 2),
        "us_per_call": round(total_us / max(calls, 1), 2),
        "top": [{"op": e.key, "calls": e.count, "self_ms": round(e.self_cpu_time_total / 1000, 2),
                 "share": round(e.self_cpu_time_total / max(total_us, 1), 3)}
                for e in events[:top]],
    }  # fmt: skip


def check_reference(report: dict) -> None:
    """Refuse a table whose torch.nn.LSTM beats this CPU's measured matmul rate."""
    rate = report.get("sgemm_gflops")
    if not rate:
        return
    for r in report["results"]:
        for key in ("lstm_train_gflops", "lstm_infer_gflops"):
            if r[key] > rate * RATE_TOLERANCE:
                raise SystemExit(
                    f"B={r['batch']} H={r['hidden']} {r['lengths']}: torch.nn.LSTM ran at "
                    f"{r[key]} GFLOP/s ({key}), above this CPU's sgemm rate of {rate} GFLOP/s "
                    f"at {report['threads']} thread(s): the timing is wrong; nothing written"
                )


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
        f"- threads in use (torch.__config__.parallel_info): {report['threads_in_use']}; "
        f"sgemm at that count: {report['sgemm_gflops']} GFLOP/s (best of 7, 1024^3, the "
        "faster of MKL's and oneDNN's kernels)",
        "",
        "GFLOP/s counts the matmul FLOPs of one batch (torch.utils.flop_counter) over its time; "
        "the torch.nn.LSTM reference never exceeds the sgemm rate (the run refuses otherwise). "
        "Variable lengths: seeded, uniform in [T/2, T]; the reference is torch.nn.LSTM on the "
        "padded batch at full length (what ignoring the lengths costs); the torch.nn column "
        "times torch.nn's module of the cell's own kind on the same input (packed for variable "
        "lengths), the alternative torch offers.",
        "",
        "Ratios are time / torch.nn.LSTM time at the same shape, in the same process: the "
        "reference and the cell are timed alternately, run by run, and each median is taken.",
        "",
        "The path column says what nnzoo ran: torch's fused kernel or the cell's hand-written "
        "scan (nnzoo.layers.fused.kernel_wins chooses for lstm and gru).",
        "",
        "| B | H | lengths | cell | path | torch.nn same kind ms | fwd+bwd ms "
        "| GFLOP/s | torch.nn.LSTM ms | GFLOP/s | ratio | target | met | inference ms "
        "| torch.nn.LSTM ms | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        met = {None: "", True: "yes", False: "**no**"}[r["meets_target"]]
        target = "" if r["target_train_ratio"] is None else f"<= {r['target_train_ratio']}"
        lines.append(
            f"| {r['batch']} | {r['hidden']} | {r['lengths']} | {r['label']} | {r['path']} "
            f"| {r['torch_same_kind_train_ms'] or ''}"
            f" | {r['train_ms']} | {r['train_gflops']} | {r['lstm_train_ms']} "
            f"| {r['lstm_train_gflops']} | {r['train_ratio']} | {target} | {met} "
            f"| {r['infer_ms']} | {r['lstm_infer_ms']} | {r['infer_ratio']} |"
        )
    missed = [r for r in report["results"] if r["meets_target"] is False]
    lines += ["", f"Targets met: {sum(r['meets_target'] is True for r in report['results'])}, "
              f"missed: {len(missed)}."]  # fmt: skip
    if missed:
        misses = [
            f"{r['label']} at B={r['batch']} H={r['hidden']} {r['lengths']} "
            f"({r['train_ratio']}x > {r['target_train_ratio']}x)"
            for r in missed
        ]
        lines.append("Missed: " + "; ".join(misses) + ".")
    profiled = [r for r in missed if r.get("profile")]
    if profiled:
        lines += ["", "## Profiles of the misses", "",
                  "One fwd+bwd batch under torch.profiler (profiling adds its own cost per op): "
                  "the ATen op calls of the batch, their mean self CPU time, and the ops that "
                  "take the most. A scan issues a few ops per step and layer; where the mean call "
                  "is a few microseconds the per-op cost, not arithmetic, bounds the speed.", "",
                  "| B | H | lengths | cell | ATen calls | self ms | us per call | top ops "
                  "(calls, share of self time) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in profiled:
            p = r["profile"]
            top = "; ".join(f"{t['op'][6:]} ({t['calls']}, {t['share']:.0%})" for t in p["top"])
            lines.append(f"| {r['batch']} | {r['hidden']} | {r['lengths']} | {r['label']} "
                         f"| {p['aten_calls']} | {p['aten_self_ms']} | {p['us_per_call']} "
                         f"| {top} |")  # fmt: skip
    paper = report.get("paper_larnn")
    if paper:
        verdict = "met" if paper["meets_target"] else "**missed**"
        lines += ["", "## LARNN at the paper's configuration", "",
                  f"H = {paper['hidden']}, {paper['num_heads']} heads, k = {paper['window']}, "
                  f"{paper['layers']} residual layers, B = {paper['batch']}, T = {report['seq']}, "
                  f"fwd + bwd: {paper['seconds_per_batch']} s per batch (median of "
                  f"{paper['repeats']}), {paper['batches_per_epoch']} batches per UCI HAR epoch: "
                  f"**{paper['seconds_per_epoch']} s per epoch** (target <= "
                  f"{paper['target_seconds_per_epoch']:g} s: {verdict})."]  # fmt: skip
    return "\n".join(lines) + "\n"


def reexec_with_malloc(argv) -> None:
    """Run this command again with `MALLOC_ENV` set, once, when it was started from the shell
    (``argv`` None) without them; the settings keep glibc from trimming and re-faulting pages
    between timed calls."""
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()) and argv is None:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})


def main(argv=None) -> None:
    reexec_with_malloc(argv)
    args = parse_args(argv)
    report = run(args)
    check_reference(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "cells-quick" if args.quick else "cells"
    if args.threads != 1 and not args.quick:
        stem += f"-threads{args.threads}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    print(f"wrote {args.out / stem}.json and .md")


if __name__ == "__main__":
    main()
