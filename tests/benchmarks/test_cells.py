"""benchmarks/cells.py's own checks: the FLOP count it times against, the refusal of a table
whose reference beats the CPU, and the thread report."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import nnzoo

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "cells.py"
spec = importlib.util.spec_from_file_location("bench_cells", PATH)
cells = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cells)


@pytest.mark.parametrize("kind", ["lstm", "gru", "elman"])
@pytest.mark.parametrize("train", [False, True])
def test_the_hand_count_equals_the_flop_counter_on_the_plain_scan(kind, train):
    # the scan (fused=False) runs visible matmuls, so torch's counter can count them
    B, T, I, H, L = 3, 5, 4, 6, 2
    model = nnzoo.Recurrent(kind, I, H, num_layers=L, fused=False)
    x = torch.randn(B, T, I)  # as in the benchmark: the input needs no gradient
    with FlopCounterMode(display=False) as counter:
        out = model(x)[0]
        if train:
            out.sum().backward()
    by_hand = cells.rnn_flops(cells.GATES[kind], I, H, L, B * T, B, train)
    assert counter.get_total_flops() == by_hand


def test_the_fused_reference_is_counted_by_hand_with_its_valid_steps():
    lstm = torch.nn.LSTM(4, 6, 2, batch_first=True)
    x = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 4])
    assert cells.matmul_flops(lstm, x, None, False) == cells.rnn_flops(4, 4, 6, 2, 15, 3, False)
    assert cells.matmul_flops(lstm, x, lengths, True) == cells.rnn_flops(4, 4, 6, 2, 11, 3, True)


def test_a_reference_faster_than_the_cpu_refuses_the_table():
    row = {"batch": 256, "hidden": 128, "lengths": "full",
           "lstm_train_gflops": 176.0, "lstm_infer_gflops": 50.0}  # fmt: skip
    report = {"sgemm_gflops": 91.5, "threads": 1, "results": [row]}
    with pytest.raises(SystemExit, match="above this CPU's sgemm rate of 91.5 GFLOP/s"):
        cells.check_reference(report)
    row["lstm_train_gflops"] = 80.0
    cells.check_reference(report)  # below the rate: written


def test_thread_counts_read_what_torch_runs_with():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        counts = cells.thread_counts()
        assert counts["aten"] == 1 and counts["openmp"] == 1
    finally:
        torch.set_num_threads(before)


def test_variable_length_rows_time_the_reference_at_full_length():
    """The reference of every row is torch.nn.LSTM on the padded batch (no PackedSequence),
    while the cell reads the lengths, and the row's FLOPs count only the valid steps."""
    seen = []
    reference = torch.nn.LSTM(4, 6, 2, batch_first=True)
    reference.register_forward_pre_hook(lambda m, a: seen.append(type(a[0]).__name__))
    module = nnzoo.Recurrent("gru", 4, 6, num_layers=2)
    x, lengths = torch.randn(3, 5, 4), torch.tensor([5, 2, 4])
    args = type("Args", (), {"repeats": 1, "warmup": 0, "device": "cpu"})()
    times = cells.measure(reference, module, x, args, lengths)
    assert set(times) == {"ref_train", "train", "ref_infer", "infer"}
    assert seen == ["Tensor", "Tensor"]  # one fwd+bwd run and one inference run
    assert cells.matmul_flops(module, x, lengths, False) == cells.rnn_flops(
        3, 4, 6, 2, 11, 3, False
    )
