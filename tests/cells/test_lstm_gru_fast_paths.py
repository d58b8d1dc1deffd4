"""The hand-written scans of ``lstm`` and ``gru`` against the step-by-step loop, and the
dispatch between them and torch's kernel (``nnzoo.layers.fused.kernel_wins``), which runs
torch.nn's own modules: the equality with torch.nn.LSTM / GRU with copied weights, on every
path, is in tests/layers/test_recurrent.py."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import nnzoo
from nnzoo.layers.recurrent import Recurrent
from tests.cells.scan_reference import (
    check_no_graph_equals_loop,
    check_scan_equals_loop,
    check_torch_func_takes_the_loop,
    gradcheck_scan,
    random_lengths,
)

KINDS = ["lstm", "gru"]


def make(name, bias=True, I=3, H=5, dtype=torch.float32, B=6):
    cell = nnzoo.create_cell(name, I, H, bias=bias).to(dtype)
    fields = len(cell.init_state(1))
    return cell, cell.State(*(0.5 * torch.randn(B, H, dtype=dtype) for _ in range(fields)))


@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", KINDS)
def test_gradcheck_float64(name, bias, lengths):
    cell, state = make(name, bias, I=2, H=3, dtype=torch.float64, B=3)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    assert gradcheck_scan(cell, x, state, torch.tensor([4, 1, 3]) if lengths else None)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", KINDS)
def test_float32_equals_the_loop(name, bias, lengths, mode):
    cell, state = make(name, bias)
    getattr(cell, mode)()
    x = torch.randn(6, 9, 3)
    given = random_lengths(6, 9, torch.Generator().manual_seed(2)) if lengths else None
    check_scan_equals_loop(cell, x, state, given)
    check_no_graph_equals_loop(cell, x, state, given)
    check_scan_equals_loop(cell, x, state, given, through_unroll=True)


@pytest.mark.parametrize("name", KINDS)
def test_float32_equals_the_loop_at_onednn_sizes(name):
    """B * kH * H above ``ONEDNN_MIN_MACS``: the products run on oneDNN where it is built."""
    cell, state = make(name, I=4, H=96, B=128)
    x = torch.randn(128, 5, 4)
    check_scan_equals_loop(cell, x, state)
    check_scan_equals_loop(cell, x, state, random_lengths(128, 5, torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("name", KINDS)
def test_batch_size_one_a_single_step_and_torch_func(name):
    cell, state = make(name, B=1)
    check_scan_equals_loop(cell, torch.randn(1, 1, 3), state)
    check_scan_equals_loop(cell, torch.randn(1, 4, 3), state, torch.tensor([2]))
    cell, state = make(name)
    check_torch_func_takes_the_loop(cell, torch.randn(6, 4, 3), state)


@pytest.mark.parametrize(
    ("name", "lengths", "kernel"),
    [("lstm", False, True), ("lstm", True, False), ("gru", False, False), ("gru", True, False)],
)
def test_cpu_dispatch_and_torch_nn_equality_on_the_path_it_takes(name, lengths, kernel):
    """On CPU only full-length lstm stays on torch's kernel; whichever path a call takes, it
    gives torch.nn's outputs, final states and weight gradients (copied weights)."""
    torch.manual_seed(0)
    kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name]
    theirs = kind(3, 5, 2, batch_first=True, bidirectional=True).double()
    ours = Recurrent.from_torch(theirs)
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    given = torch.tensor([7, 2, 5, 1]) if lengths else None
    assert ours.kernel_path(x, given) is kernel
    out, states = ours(x, lengths=given)
    if lengths:
        packed = pack_padded_sequence(x, given, batch_first=True, enforce_sorted=False)
        ref_packed, ref_state = theirs(packed)
        ref, _ = pad_packed_sequence(ref_packed, batch_first=True, total_length=7)
    else:
        ref, ref_state = theirs(x)
    torch.testing.assert_close(out, ref)
    h_ref = ref_state[0] if name == "lstm" else ref_state
    torch.testing.assert_close(states[-1].bw.h, h_ref[-1])
    (out.pow(2).sum()).backward()
    (ref.pow(2).sum()).backward()
    for a, b in ours._torch_parameter_pairs(theirs):
        torch.testing.assert_close(a.grad, b.grad)
