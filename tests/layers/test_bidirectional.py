import pytest
import torch

import nnzoo
from nnzoo import Bidirectional, unroll


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "mean"])
def test_merges_of_two_different_cells(merge):
    fw = nnzoo.create_cell("larnn", 3, 4, window=2, num_heads=2)
    bw = nnzoo.create_cell("peephole-lstm", 3, 4)
    layer = Bidirectional(fw, bw, merge=merge)
    x = torch.randn(2, 5, 3)
    out, state = layer(x, lengths=[5, 3])
    a, _ = unroll(fw, x, lengths=[5, 3])
    b, _ = unroll(bw, x, lengths=[5, 3], reverse=True)
    expected = {"concat": torch.cat([a, b], -1), "sum": a + b, "mul": a * b, "mean": (a + b) / 2}
    torch.testing.assert_close(out, expected[merge])
    assert layer.output_size == (8 if merge == "concat" else 4)
    assert state.fw.window.shape == (2, 2, 4) and state.bw.c.shape == (2, 4)


def test_equals_a_bidirectional_torch_lstm():
    theirs = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True).double()
    fw, bw = nnzoo.create_cell("lstm", 3, 4).double(), nnzoo.create_cell("lstm", 3, 4).double()
    with torch.no_grad():
        for cell, suffix in ((fw, ""), (bw, "_reverse")):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(theirs, f"{name}_l0{suffix}"))
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    out, state = Bidirectional(fw, bw)(x)
    ref, (h_n, _) = theirs(x)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.stack([state.fw.h, state.bw.h]), h_n, atol=1e-10, rtol=0)


def test_merge_needs_equal_widths():
    fw, bw = nnzoo.create_cell("gru", 3, 4), nnzoo.create_cell("gru", 3, 5)
    assert Bidirectional(fw, bw).output_size == 9
    with pytest.raises(ValueError, match="merge='sum': expected both cells with hidden_size=4"):
        Bidirectional(fw, bw, merge="sum")
