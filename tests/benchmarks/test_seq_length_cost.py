"""benchmarks/seq_length_cost.py's own checks: the crossing of two cost curves, the peak of
the CPU allocations it reports, the equal-size widths, and a smoke run of the whole benchmark."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from nnzoo.errors import ConfigError

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "seq_length_cost.py"
spec = importlib.util.spec_from_file_location("bench_seq_length_cost", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_power_laws_cross_where_they_are_equal():
    # y = T / 32 meets z = 3 at T = 96 exactly; both are straight lines in (log T, log y),
    # so interpolating on log T between the measured 64 and 128 finds it exactly
    lengths = [32, 64, 128, 256]
    transformer = [t / 32 for t in lengths]
    found = bench.crossings(lengths, transformer, [3.0] * 4)
    assert found == [pytest.approx(96.0)]
    # y = T^2 meets z = 1000 T at T = 1000, between 512 and 2048
    lengths = [128, 512, 2048]
    found = bench.crossings(lengths, [t**2 for t in lengths], [1000.0 * t for t in lengths])
    assert found == [pytest.approx(1000.0)]


def test_the_sentence_gives_each_crossing_or_says_there_is_none():
    lengths = [32, 64, 128]
    per_token = {"lstm": [3.0, 3.0, 3.0], "larnn": [0.5, 0.9, 1.5], "transformer": [1, 2, 4]}
    sentence = bench.crossing_sentence(lengths, per_token)
    assert "crosses the LSTM's at T ≈ 96 (the Transformer is cheaper per token below)" in sentence
    assert (
        "no crossing with the LARNN's in the measured range (T = 32 to 128; the Transformer is "
        "dearer per token throughout)" in sentence
    )


def test_a_skipped_length_is_no_crossing_and_a_touch_is_none_either():
    # the only length past the crossing was skipped: nothing measured brackets it
    assert bench.crossings([32, 64, 128], [1.0, 2.0, None], [3.0, 3.0, 3.0]) == []
    # equal at 64 but below on both sides: the curves touch, they do not cross
    assert bench.crossings([32, 64, 128], [1.0, 3.0, 1.0], [3.0, 3.0, 3.0]) == []
    # equal at 64 with the order changing across it: the crossing is at 64
    assert bench.crossings([32, 64, 128], [1.0, 3.0, 9.0], [3.0, 3.0, 3.0]) == [pytest.approx(64.0)]
    sentence = bench.crossing_sentence([32, 64, 128], {"lstm": [3, 3, 3], "transformer": [4, 5, 6]})
    assert "no crossing with the LSTM's in the measured range" in sentence


def test_the_peak_is_the_most_held_at_once_by_the_allocations_made_inside():
    before = torch.empty(4 << 20, dtype=torch.uint8)  # 4 MiB, allocated before the profiler

    def work():
        nonlocal before
        a = torch.empty(1 << 20, dtype=torch.uint8)  # 1 MiB held
        b = torch.empty(2 << 20, dtype=torch.uint8)  # 3 MiB held: the peak
        del a  # 2 MiB
        before = None  # a block from before the profiler: not counted either way
        c = torch.empty(1 << 19, dtype=torch.uint8)  # 2.5 MiB
        del b, c

    peak, ops = bench.peak_allocated(work)
    assert peak == 3 << 20
    assert "aten::empty" in ops


def transformer_parameters(I, E, F, L):
    """The Transformer encoder's parameters counted by hand: the input projection, per layer
    attention (in: 3E x E + 3E, out: E x E + E), feed-forward (F x E + F, E x F + E) and two
    LayerNorms (2E each), and the final LayerNorm."""
    layer = (3 * E * E + 3 * E) + (E * E + E) + (F * E + F) + (E * F + E) + 4 * E
    return I * E + E + L * layer + 2 * E


def test_the_widths_match_the_target_size():
    args = bench.parse_args(["--params", "200000", "--lengths", "8"])
    widths = bench.match_widths(args)
    counts = [w["params"] for w in widths.values()]
    assert all(abs(c - 200_000) <= 0.025 * 200_000 for c in counts)
    H = widths["lstm"]["options"]["hidden"]
    assert widths["lstm"]["params"] == sum(
        p.numel() for p in torch.nn.LSTM(32, H, 2, batch_first=True).parameters()
    )
    o = widths["transformer"]["options"]
    assert o["embedding"] % 4 == 0
    assert widths["transformer"]["params"] == transformer_parameters(
        32, o["embedding"], o["feedforward"], 2
    )
    assert widths["larnn"]["options"]["attention"] % 4 == 0


def test_sizes_that_cannot_match_are_refused():
    with pytest.raises(ConfigError, match="apart; raise --params"):
        bench.main(["--quick", "--params", "300", "--lengths", "8"])


def test_quick_run_writes_the_table_the_plot_and_a_sentence_that_fits_the_numbers(tmp_path):
    argv = ["--quick", "--out", str(tmp_path), "--lengths", "8", "16", "--params", "20000",
            "--repeats", "2", "--warmup", "1"]  # fmt: skip
    bench.main(argv)
    stem = tmp_path / "seq-length-cost-quick"
    for ext in ("json", "md", "png"):
        assert (stem.with_suffix(f".{ext}")).stat().st_size > 0
    report = json.loads(stem.with_suffix(".json").read_text())
    counts = [w["params"] for w in report["models"].values()]
    assert set(report["models"]) == {"lstm", "larnn", "transformer"}
    assert max(counts) <= 1.05 * min(counts)
    assert [r["T"] for r in report["results"]] == [8, 16]
    for r in report["results"]:
        for name in report["models"]:
            m = r[name]
            assert len(m["times"]) == 2 and all(t > 0 for t in m["times"])
            assert m["ms_per_token"] == pytest.approx(1000 * m["seconds"] / (8 * r["T"]))
            assert m["peak_mib"] > 0
    assert report["results"][0]["lstm"]["path"] == "kernel"
    # the sentence names a crossing for a model exactly when the order changes between the lengths
    sentence = report["crossing"]
    for name, label in (("lstm", "LSTM"), ("larnn", "LARNN")):
        order = [
            r["transformer"]["ms_per_token"] < r[name]["ms_per_token"] for r in report["results"]
        ]
        if order[0] == order[1]:
            assert f"no crossing with the {label}'s in the measured range" in sentence
        else:
            t = float(sentence.split(f"the {label}'s at T ≈ ")[1].split(" ")[0])
            assert 8 <= t <= 16
    markdown = stem.with_suffix(".md").read_text()
    assert sentence in markdown
    assert report["command"] in markdown and report["torch"] == torch.__version__
    assert f"| {counts[0]} |" in markdown


def test_a_length_after_one_over_budget_is_skipped(tmp_path):
    argv = ["--quick", "--out", str(tmp_path), "--lengths", "4", "8", "--params", "20000",
            "--repeats", "1", "--warmup", "0", "--models", "lstm", "transformer",
            "--max-seconds", "1e-9"]  # fmt: skip
    bench.main(argv)
    report = json.loads((tmp_path / "seq-length-cost-quick.json").read_text())
    first, second = report["results"]
    assert first["lstm"]["seconds"] > 0 and first["transformer"]["seconds"] > 0
    assert second["lstm"] == second["transformer"] == "skipped: over budget"
    assert "no crossing with the LSTM's in the measured range (T = 4 to 4;" in report["crossing"]
    assert math.isfinite(first["lstm"]["ms_per_token"])
