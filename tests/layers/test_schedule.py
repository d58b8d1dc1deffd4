"""The packed layout of the hand-written scans, against loops over the rows written here."""

import torch

from nnzoo.layers.schedule import Schedule


def test_without_lengths_packing_is_a_time_major_reshape():
    x = torch.randn(3, 4, 2)
    s = Schedule(None, 3, 4)
    assert s.running == [3] * 4 and s.offsets == [0, 3, 6, 9] and s.rows == 12
    p = s.pack(x)
    torch.testing.assert_close(p, x.transpose(0, 1).reshape(12, 2), rtol=0, atol=0)
    torch.testing.assert_close(s.unpack(p), x, rtol=0, atol=0)
    torch.testing.assert_close(s.last(p), x[:, -1], rtol=0, atol=0)


def test_with_lengths_each_step_holds_the_running_sequences_longest_first():
    lengths = torch.tensor([2, 4, 1, 4, 3])
    B, T = 5, 4
    x = torch.randn(B, T, 2)
    s = Schedule(lengths, B, T)
    assert s.running == [5, 4, 3, 2]
    order = s.order.tolist()
    assert sorted(lengths.tolist(), reverse=True) == [lengths[b].item() for b in order]
    steps = s.split(s.pack(x))
    for t, rows in enumerate(steps):
        expected = torch.stack([x[b, t] for b in order if lengths[b] > t])
        torch.testing.assert_close(rows, expected, rtol=0, atol=0)
    back = s.unpack(s.pack(x))
    for b in range(B):
        torch.testing.assert_close(back[b, : lengths[b]], x[b, : lengths[b]], rtol=0, atol=0)
        assert torch.all(back[b, lengths[b] :] == 0)
        torch.testing.assert_close(s.last(s.pack(x))[b], x[b, lengths[b] - 1], rtol=0, atol=0)
    first = torch.randn(B, 2)  # sorted rows, as a scan holds h_0
    previous = s.split(s.previous(s.pack(x), first))
    torch.testing.assert_close(previous[0], first, rtol=0, atol=0)
    for t in range(1, T):
        torch.testing.assert_close(previous[t], steps[t - 1][: s.running[t]], rtol=0, atol=0)
    torch.testing.assert_close(s.unsort(s.sort(first)), first, rtol=0, atol=0)


def test_steps_no_sequence_reaches_hold_no_rows():
    s = Schedule(torch.tensor([2, 1]), 2, 4)
    assert s.running == [2, 1, 0, 0] and s.rows == 3
    constants = s.constants(torch.ones(1), 3, -1.0, 2.0)
    assert constants[1][0].shape == (1, 3) and torch.all(constants[2][1] == 2)
