r"""Cost of sequence length: time per token and peak memory of LSTM, LARNN and a Transformer
encoder at equal parameter count (not a test).

The LARNN paper's argument: a recurrent step costs the same at every t, so a sequence of T
steps costs O(T) (time per token flat in T), while self-attention compares every pair of steps,
O(T^2) (time per token growing like T). The LARNN attends over a window of its last k cell
states only, so it stays O(T k):

.. math::
    \text{LSTM: } t(T) \propto T\,(H^2 + IH), \qquad
    \text{LARNN: } t(T) \propto T\,(H^2 + IH + kD), \qquad
    \text{Transformer: } t(T) \propto T\,E^2 + T^2 E

For each length T in ``--lengths`` and batch B, the three encoders read x (B, T, I) and are
timed forward + backward (``out = model(x); loss = out.sum(); loss.backward()``, gradients set
to None between runs, outside the timer), median of ``--repeats`` runs after ``--warmup`` runs;
per token = time / (B T). The encoders, each ``--layers`` deep and of ``--params`` parameters
(within ``MATCH_TOLERANCE`` of each other; the widths come from a search, see
``match_widths``):

- ``Recurrent("lstm", I, H, num_layers=L)``: torch's fused LSTM kernel;
- ``Recurrent("larnn", I, H, num_layers=L, window=k, num_heads=N, attention_size=D)``;
- ``TransformerEncoder``: h^0 = W_in x + b_in + PE (the sinusoidal table of
  ``nnzoo.models.transformer.sinusoidal_table``), then L pre-norm ``torch.nn`` encoder layers
  (E wide, N heads, a ReLU feed-forward F wide) and a final LayerNorm, as
  ``nnzoo.models.transformer.TransformerClassifier`` builds its encoder; full (non-causal)
  attention, no dropout (no model here has any).

    python benchmarks/seq_length_cost.py          # -> results/seq-length-cost.{json,md,png}
    python benchmarks/seq_length_cost.py --quick  # T <= 128, -> runs/bench/seq-length-cost-quick.*

A model whose median at some T took over ``--max-seconds`` per run is not run at the longer
lengths (their rows say "skipped: over budget").

Peak memory is measured in one more run of each point, under
``torch.profiler.profile(profile_memory=True)``: the profiler records every allocation and free
of torch's CPU allocator with its size, and the peak is the largest running sum of those sizes
during the step, counted from zero when the profiler starts. It is therefore the memory the
step itself asks torch for (activations saved for backward, gradients, temporaries), not the
weights or the input that exist before it. Limits: memory allocated outside torch's CPU
allocator is not seen (oneDNN's or MKL's private scratch buffers, Python objects, what glibc
keeps after a free), and it is the tensors' bytes, not the pages the process touches. The
profiler slows a step down (several times for the LARNN's many small ops), so this run is never
timed. The raw events are read from ``prof.profiler.kineto_results`` (an attribute torch
does not document; ``key_averages()`` would take minutes on a long scan). The process's peak
RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) was not used: it is a high-water mark over the whole
process (torch's import, earlier points) and, with the malloc settings below, which keep freed
memory, it never falls, so each point would need its own fresh process and would still read
pages of the whole process. The attention kernel matters for the
Transformer's memory: torch's CPU flash attention (the default where it applies) never stores
the (T, T) scores, so its memory grows like T; ``--attention math`` forces the plain kernel,
whose memory grows like T^2. The kernel that ran is recorded.

Where the Transformer's time per token crosses a recurrent model's, the crossing T is
interpolated linearly in (log T, log time per token) between the two measured lengths that
bracket it (straight lines on the log-log plot), from the measured numbers.

Timings on a shared CPU are noisy: the run uses one thread by default (``--threads``; it stops
if torch reports another count) and re-executes itself once with the glibc malloc settings of
``benchmarks/cells.py`` (recorded in the results).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.autograd import DeviceType

from nnzoo.errors import ConfigError, NnzooError
from nnzoo.layers.recurrent import Recurrent
from nnzoo.models.transformer import sinusoidal_table
from nnzoo.report.plots import plot_functions
from nnzoo.utils.environment import provenance

ROOT = Path(__file__).resolve().parents[1]


def _load_cells_benchmark():
    """benchmarks/cells.py as a module (benchmarks/ is not a package): its malloc settings and
    its thread report."""
    spec = importlib.util.spec_from_file_location(
        "bench_cells", Path(__file__).with_name("cells.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_cells = _load_cells_benchmark()
MALLOC_ENV: dict[str, str] = _cells.MALLOC_ENV
thread_counts: Callable[[], dict[str, int]] = _cells.thread_counts

MODELS = ("lstm", "larnn", "transformer")
LABELS = {"lstm": "LSTM", "larnn": "LARNN", "transformer": "Transformer"}
MATCH_TOLERANCE = 0.05  # the largest parameter count may exceed the smallest by this fraction
SKIPPED = "skipped: over budget"
MiB = 2**20
LENGTHS = [32, 64, 128, 256, 512, 1024, 2048]
QUICK = {"lengths": [32, 64, 128], "params": 50_000, "repeats": 3, "warmup": 1}
FULL = {"lengths": LENGTHS, "params": 200_000, "repeats": 5, "warmup": 1}


class TransformerEncoder(nn.Module):
    r"""Float inputs (B, T, I) -> (B, T, E) through a pre-norm Transformer encoder.

    .. math::
        h^0 = W_{in} x + b_{in} + \mathrm{PE}, \qquad o = \mathrm{LN}(\mathrm{Encoder}^L(h^0))

    with PE the sinusoidal table (``sinusoidal_table``) and each layer as in
    ``TransformerClassifier``: ``torch.nn.TransformerEncoderLayer(norm_first=True)``.

    Args:
        input_size: I.
        embedding: E, the width of every layer; ``heads`` must divide it.
        heads: N.
        layers: L.
        feedforward: F, the width of each layer's ReLU feed-forward block.
        max_length: the longest T (the rows of the position table).
        dropout: in every layer.
    """

    def __init__(
        self,
        input_size: int,
        embedding: int,
        heads: int,
        layers: int,
        feedforward: int,
        max_length: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if embedding % heads:
            raise ConfigError(
                f"embedding={embedding} is not divisible by heads={heads}; choose heads that "
                "divide embedding"
            )
        self.proj = nn.Linear(input_size, embedding)
        self.register_buffer("pe", sinusoidal_table(max_length, embedding), persistent=False)
        layer = nn.TransformerEncoderLayer(
            embedding, heads, feedforward, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(embedding), enable_nested_tensor=False
        )

    def forward(self, x: Tensor) -> Tensor:
        """x (B, T, I) -> o (B, T, E)."""
        h = self.proj(x) + self.pe[: x.shape[1]]  # (B, T, E)
        return self.encoder(h)  # (B, T, E)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short lengths, small models, a minute")
    p.add_argument("--lengths", type=int, nargs="+", default=None, help=f"default {LENGTHS}")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--input", type=int, default=32, help="I, the input features")
    p.add_argument("--layers", type=int, default=2, help="L, the layers of every model")
    p.add_argument("--params", type=int, default=None, help="target parameters (200k)")
    p.add_argument("--window", type=int, default=16, help="k, the LARNN's window")
    p.add_argument("--heads", type=int, default=4, help="heads of the LARNN and the Transformer")
    p.add_argument(
        "--ff-ratio", type=float, default=2.0, help="Transformer F / E before F is fine-tuned"
    )
    p.add_argument(
        "--attention",
        default="auto",
        choices=["auto", "math"],
        help="Transformer attention kernel: torch's choice, or the plain (T, T) one",
    )
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=20.0, help="per run; longer T skipped")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder for the json, md and png")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        args.out = ROOT / ("runs/bench" if args.quick else "results")
    check_args(args)
    return args


def check_args(args) -> None:
    """One-line ConfigErrors for settings the run cannot use."""
    for name in ("batch", "input", "layers", "params", "window", "heads", "repeats", "threads"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name}={getattr(args, name)}: expected an integer >= 1")
    if args.warmup < 0:
        raise ConfigError(f"--warmup={args.warmup}: expected an integer >= 0")
    if any(t < 1 for t in args.lengths):
        raise ConfigError(f"--lengths {args.lengths}: expected lengths >= 1")
    if args.ff_ratio <= 0 or args.max_seconds <= 0:
        raise ConfigError("--ff-ratio and --max-seconds: expected positive numbers")
    args.lengths = sorted(set(args.lengths))


# --- models of equal size ------------------------------------------------------------------


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(name: str, options: Mapping[str, int], args) -> nn.Module:
    """The encoder ``name`` with the widths ``options`` (as ``match_widths`` returns them)."""
    if name == "lstm":
        return Recurrent("lstm", args.input, options["hidden"], num_layers=args.layers)
    if name == "larnn":
        return Recurrent(
            "larnn",
            args.input,
            options["hidden"],
            num_layers=args.layers,
            window=args.window,
            num_heads=args.heads,
            attention_size=options["attention"],
        )
    if name == "transformer":
        return TransformerEncoder(
            args.input,
            options["embedding"],
            args.heads,
            args.layers,
            options["feedforward"],
            max(args.lengths),
        )
    raise ConfigError(f"model {name!r}: expected one of {', '.join(MODELS)}")


def smallest_reaching(count: Callable[[int], int], target: int) -> int:
    """The smallest w >= 1 with count(w) >= target, for a count growing with w: doubling w
    until it is reached, then bisecting."""
    lo, hi = 1, 1
    while count(hi) < target:
        lo, hi = hi + 1, 2 * hi
    while lo < hi:
        mid = (lo + hi) // 2
        if count(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def match_widths(args) -> dict[str, dict]:
    """For each model, the widths whose parameter count is nearest ``args.params``.

    LSTM: H. LARNN: H, and its attention width D, a multiple of the heads near H (the fine
    step, since H alone moves the count by ~2/H). Transformer: E, a multiple of the heads with
    F = ff_ratio E nearest the target, then F, which moves the count by ~2 L E per unit, solved
    for the target.

    Returns:
        ``{name: {"options": {...widths}, "params": count}}``.
    """
    target, N = args.params, args.heads

    def params(name, options):
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            return count_parameters(build(name, options, args))

    def nearest(name, candidates):
        return min(
            ({"options": o, "params": params(name, o)} for o in candidates),
            key=lambda c: abs(c["params"] - target),
        )

    out = {}
    h = smallest_reaching(lambda w: params("lstm", {"hidden": w}), target)
    out["lstm"] = nearest("lstm", [{"hidden": w} for w in (max(1, h - 1), h)])

    def attention(w):  # the multiples of N around w
        below = max(N, N * (w // N))
        return sorted({below, below + N})

    h = smallest_reaching(
        lambda w: params("larnn", {"hidden": w, "attention": attention(w)[0]}), target
    )
    around = range(max(1, h - 2), h + 3)
    out["larnn"] = nearest(
        "larnn", [{"hidden": w, "attention": d} for w in around for d in attention(w)]
    )

    def at_ratio(k):  # E = N k, F = ff_ratio E
        return {"embedding": N * k, "feedforward": max(1, round(args.ff_ratio * N * k))}

    k = smallest_reaching(lambda k: params("transformer", at_ratio(k)), target)
    candidates = []
    for kk in (max(1, k - 1), k):
        e = N * kk
        c1 = params("transformer", {"embedding": e, "feedforward": 1})
        slope = params("transformer", {"embedding": e, "feedforward": 2}) - c1  # per unit of F
        f = max(1, 1 + round((target - c1) / slope))
        candidates.append({"embedding": e, "feedforward": f})
    out["transformer"] = nearest("transformer", candidates)
    out = {name: out[name] for name in args.models}
    counts = [c["params"] for c in out.values()]
    if max(counts) > min(counts) * (1 + MATCH_TOLERANCE):
        found = ", ".join(f"{n} {c['params']}" for n, c in out.items())
        raise ConfigError(
            f"--params {target}: the nearest widths give {found} parameters, more than "
            f"{MATCH_TOLERANCE:.0%} apart; raise --params or lower --heads"
        )
    return out


# --- measurement ---------------------------------------------------------------------------


def attention_context(kind: str):
    """The context that runs scaled-dot-product attention on ``kind``'s kernel."""
    if kind == "auto":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)


def encode(model: nn.Module, x: Tensor) -> Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out  # Recurrent returns (outputs, states)


def train_step(model: nn.Module, x: Tensor) -> None:
    """One forward + backward: the timed work."""
    out = encode(model, x)  # (B, T, H) or (B, T, E)
    loss = out.sum()
    loss.backward()


def time_runs(model: nn.Module, x: Tensor, repeats: int, warmup: int) -> list[float]:
    """Seconds of ``repeats`` forward + backward runs after ``warmup`` untimed ones."""
    times = []
    for index in range(warmup + repeats):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        train_step(model, x)
        elapsed = time.perf_counter() - start
        if index >= warmup:
            times.append(elapsed)
    model.zero_grad(set_to_none=True)
    return times


def peak_allocated(fn: Callable[[], object]) -> tuple[int, list[str]]:
    """The peak bytes held by tensors that ``fn()`` allocates on the CPU, and the names of the
    ATen ops it ran.

    The running sum of the sizes of torch's CPU allocations (+) and frees (-) that
    ``torch.profiler`` records while ``fn`` runs, starting at 0; its maximum is the peak.
    Frees of blocks allocated before the profiler started are not recorded, so they never
    lower the sum.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # the raw events: prof.key_averages() would take ~20 us per event, minutes on a long scan
    cpu, memory, ops = DeviceType.CPU, [], set()
    for event in prof.profiler.kineto_results.events():
        name = event.name()
        if name == "[memory]":
            if event.device_type() == cpu:
                memory.append((event.start_ns(), event.nbytes()))
        elif name.startswith("aten::"):
            ops.add(name)
    memory.sort(key=lambda e: e[0])  # stable: events of one time stay in their order
    held = peak = 0
    for _, nbytes in memory:
        held += nbytes
        peak = max(peak, held)
    ops = sorted(ops)
    return peak, ops


def measure(name: str, model: nn.Module, x: Tensor, args) -> dict:
    """One model at one length: its times, per token, and peak memory."""
    B, T = x.shape[:2]
    with attention_context(args.attention if name == "transformer" else "auto"):
        times = time_runs(model, x, args.repeats, args.warmup)
        peak, ops = peak_allocated(lambda: train_step(model, x))
    model.zero_grad(set_to_none=True)
    seconds = statistics.median(times)
    row = {
        "seconds": seconds,
        "times": [round(t, 6) for t in times],
        "ms_per_token": 1000 * seconds / (B * T),
        "peak_mib": round(peak / MiB, 3),
    }
    if isinstance(model, Recurrent):
        row["path"] = "kernel" if model.kernel_path(x) else "scan"
    else:
        kernels = [op[6:] for op in ops if "attention" in op and "backward" not in op]
        row["path"] = ", ".join(k for k in kernels if k != "scaled_dot_product_attention")
    return row


# --- crossings -----------------------------------------------------------------------------


def crossings(
    lengths: Sequence[float], a: Sequence[float | None], b: Sequence[float | None]
) -> list[float]:
    """The lengths where curve ``a`` meets curve ``b``, each interpolated linearly in
    (log T, log y) between the two measured lengths that bracket it.

    Lengths where either value is missing (None, a skipped point) are left out. A measured
    length where the two are equal is a crossing only where the order differs on its two sides
    (a touch is not).
    """
    points = [
        (math.log(t), math.log(y) - math.log(z))
        for t, y, z in zip(lengths, a, b)
        if y is not None and z is not None
    ]
    found = []
    nonzero = [(x, d) for x, d in points if d != 0]
    for (x0, d0), (x1, d1) in itertools.pairwise(nonzero):
        if (d0 < 0) == (d1 < 0):
            continue
        ties = [x for x, d in points if x0 < x < x1 and d == 0]
        x = ties[0] if ties else x0 + (x1 - x0) * d0 / (d0 - d1)
        found.append(math.exp(x))
    return found


def crossing_sentence(lengths: Sequence[int], per_token: Mapping[str, Sequence]) -> str:
    """Where the Transformer's time per token crosses the LSTM's and the LARNN's, in words,
    from ``per_token`` (model -> ms per token at each length, None where not measured)."""
    if "transformer" not in per_token:
        return "No Transformer was measured, so there is no crossing to report."
    tf = per_token["transformer"]
    parts = []
    for name in ("lstm", "larnn"):
        if name not in per_token:
            continue
        label, other = LABELS[name], per_token[name]
        both = [(t, y, z) for t, y, z in zip(lengths, tf, other) if y is not None and z is not None]
        if not both:
            parts.append(
                f"no crossing with the {label}'s in the measured range (no length "
                "measured for both)"
            )
            continue
        order = "cheaper" if both[0][1] < both[0][2] else "dearer"
        found = crossings(lengths, tf, other)
        if found:
            where = " and ".join(f"T ≈ {t:.0f}" for t in found)
            parts.append(
                f"it crosses the {label}'s at {where} (the Transformer is {order} per token below)"
            )
        else:
            parts.append(
                f"no crossing with the {label}'s in the measured range (T = "
                f"{both[0][0]} to {both[-1][0]}; the Transformer is {order} per token "
                "throughout)"
            )
    if not parts:
        return "No recurrent model was measured, so there is no crossing to report."
    return "On this CPU, the Transformer's time per token: " + "; ".join(parts) + "."


# --- the run -------------------------------------------------------------------------------


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    threads = thread_counts()
    wrong = {k: v for k, v in threads.items() if v != args.threads}
    if wrong:
        raise SystemExit(
            f"asked for {args.threads} thread(s) but torch runs {wrong}; unset "
            "OMP_NUM_THREADS / MKL_NUM_THREADS or pass --threads to match"
        )
    widths = match_widths(args)
    for name, w in widths.items():
        print(f"{name:12s} {w['params']:8d} parameters  {w['options']}", flush=True)
    torch.manual_seed(args.seed)
    models = {name: build(name, widths[name]["options"], args).train() for name in args.models}
    over = dict.fromkeys(args.models, False)
    rows = []
    for T in args.lengths:
        x = torch.randn(args.batch, T, args.input)  # (B, T, I); needs no gradient
        row: dict = {"T": T}
        for name, model in models.items():
            if over[name]:
                row[name] = SKIPPED
                print(f"T={T:5d} {name:12s} {SKIPPED}", flush=True)
                continue
            row[name] = measure(name, model, x, args)
            r = row[name]
            over[name] = r["seconds"] > args.max_seconds
            print(
                f"T={T:5d} {name:12s} {r['seconds'] * 1000:9.1f} ms  "
                f"{r['ms_per_token'] * 1000:8.2f} us/token  {r['peak_mib']:8.1f} MiB",
                flush=True,
            )
        rows.append(row)
    report = provenance("cpu")
    report.update(
        {
            "threads": args.threads,
            "threads_in_use": threads,
            "batch": args.batch,
            "input": args.input,
            "layers": args.layers,
            "target_params": args.params,
            "window": args.window,
            "heads": args.heads,
            "attention": args.attention,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "max_seconds": args.max_seconds,
            "lengths": args.lengths,
            "models": widths,
            "malloc": {k: os.environ.get(k) for k in MALLOC_ENV},
        }
    )
    report["results"] = rows
    report["crossing"] = crossing_sentence(args.lengths, per_token_series(report))
    return report


def per_token_series(report: dict) -> dict[str, list[float | None]]:
    """Model -> ms per token at each length of the report (None where skipped)."""
    return {
        name: [
            r[name]["ms_per_token"] if isinstance(r[name], dict) else None
            for r in report["results"]
        ]
        for name in report["models"]
    }


def describe(name: str, options: Mapping[str, int], report: dict) -> str:
    o = options
    if name == "lstm":
        return f"H = {o['hidden']}"
    if name == "larnn":
        return (
            f"H = {o['hidden']}, D = {o['attention']}, k = {report['window']}, "
            f"{report['heads']} heads"
        )
    return f"E = {o['embedding']}, F = {o['feedforward']}, {report['heads']} heads"


def cell(value, key: str, digits: int) -> str:
    if not isinstance(value, dict):
        return value
    return f"{value[key]:.{digits}g}" if digits else f"{value[key]:.1f}"


def markdown(report: dict) -> str:
    names = list(report["models"])
    lines = [
        "# Cost of sequence length: LSTM, LARNN and a Transformer encoder",
        "",
        f"- command: `{report['command']}`",
        f"- machine: {report['machine']}; {report['threads']} thread(s)",
        f"- torch {report['torch']}, python {report['python']}, {report['date']}",
        f"- B = {report['batch']}, I = {report['input']}, {report['layers']} layers, "
        f"target {report['target_params']} parameters; forward + backward, median of "
        f"{report['repeats']} runs after {report['warmup']} warm-up run(s); per token = time "
        "/ (B T)",
        f"- lengths after a run over {report['max_seconds']:g} s are skipped; attention kernel: "
        f"{report['attention']}",
        f"- glibc malloc settings: {report['malloc']}",
        "",
        "| model | widths | parameters |",
        "|---|---|---|",
    ]
    for name, w in report["models"].items():
        lines.append(f"| {LABELS[name]} | {describe(name, w['options'], report)} | {w['params']} |")
    lines += [
        "",
        "Peak memory: the largest amount held by the tensors one forward + backward allocates "
        "(torch.profiler's record of torch's CPU allocations and frees, from the step's start; "
        "weights and input not included; memory outside torch's allocator not seen).",
        "",
        "| T | "
        + " | ".join(f"{LABELS[n]} ms/token" for n in names)
        + " | "
        + " | ".join(f"{LABELS[n]} peak MiB" for n in names)
        + " |",
        "|---" * (1 + 2 * len(names)) + "|",
    ]
    for r in report["results"]:
        times = [cell(r[n], "ms_per_token", 4) for n in names]
        peaks = [cell(r[n], "peak_mib", 0) for n in names]
        lines.append(f"| {r['T']} | " + " | ".join(times + peaks) + " |")
    paths = {
        n: sorted({r[n]["path"] for r in report["results"] if isinstance(r[n], dict)})
        for n in names
    }
    lines += [
        "",
        "Paths: "
        + "; ".join(f"{LABELS[n]}: {', '.join(p) or '-'}" for n, p in paths.items())
        + ".",
        "",
        report["crossing"],
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> Path:
    """Time per token and peak memory against T, log-log, one line per model."""
    lengths = [r["T"] for r in report["results"]]
    series = per_token_series(report)
    nan = float("nan")
    time_lines = {
        LABELS[n]: (lengths, [nan if y is None else y for y in ys]) for n, ys in series.items()
    }
    memory_lines = {
        LABELS[n]: (
            lengths,
            [r[n]["peak_mib"] if isinstance(r[n], dict) else nan for r in report["results"]],
        )
        for n in report["models"]
    }
    panels = {"fwd+bwd ms per token": time_lines, "peak MiB": memory_lines}
    title = (
        f"B = {report['batch']}, ~{report['target_params'] // 1000}k parameters, "
        f"{report['threads']} thread(s)"
    )
    return plot_functions(panels, path, xlabel="T (steps)", logx=True, logy=True, title=title)


def main(argv=None) -> None:
    _cells.reexec_with_malloc(argv)
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "seq-length-cost-quick" if args.quick else "seq-length-cost"
    if args.threads != 1 and not args.quick:
        stem += f"-threads{args.threads}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report))
    plot(report, args.out / f"{stem}.png")
    print(report["crossing"])
    print(f"wrote {args.out / stem}.json, .md and .png")


if __name__ == "__main__":
    try:
        main()
    except NnzooError as error:
        print(f"seq_length_cost: {error}", file=sys.stderr)
        sys.exit(2)
