"""The products of the hand-written scans against torch's own (F.linear, torch.mm)."""

import pytest
import torch
import torch.nn.functional as F

from nnzoo.layers import gemm

F32 = {"atol": 1e-4, "rtol": 1e-5}


@pytest.fixture(params=["onednn", "torch"])
def engine(request, monkeypatch):
    """Every product on oneDNN (threshold 0) where it is built, or on torch's mm."""
    if request.param == "onednn":
        if not gemm.use_onednn(torch.ones(1), gemm.ONEDNN_MIN_MACS):
            pytest.skip("this torch has no oneDNN linear kernel")
        monkeypatch.setattr(gemm, "ONEDNN_MIN_MACS", 0)
    else:
        monkeypatch.setattr(gemm, "ONEDNN_MIN_MACS", 1 << 62)
    return request.param


def test_linear_and_linear_add_equal_torch(engine):
    x = torch.randn(64, 300)[:, :17]  # rows strided, as a scan's per-step views are
    w, other = torch.randn(40, 17), torch.randn(64, 40)
    torch.testing.assert_close(gemm.linear(x, w), x @ w.T, **F32)
    torch.testing.assert_close(gemm.linear_add(x, w, other), other + x @ w.T, **F32)
    out = torch.empty(64, 100)[:, 10:50]
    got = gemm.linear_add(x, w, other, out=out, scale=2.0)
    assert got.data_ptr() == out.data_ptr()
    torch.testing.assert_close(out, 2 * other + x @ w.T, **F32)
    gemm.linear_add(x, w, None, out=out)
    torch.testing.assert_close(out, x @ w.T, **F32)


def test_gram_equals_the_transposed_product():
    a, b = torch.randn(500, 40), torch.randn(500, 9)
    torch.testing.assert_close(gemm.gram(a, b), a.T @ b, **F32)
    torch.testing.assert_close(gemm.gram(b, a), b.T @ a, **F32)


@pytest.mark.parametrize("bias", [True, False])
def test_projection_equals_f_linear_with_gradients(engine, bias):
    x = torch.randn(5, 7, 3, requires_grad=True)
    w = torch.randn(8, 3, requires_grad=True)
    b = torch.randn(8, requires_grad=True) if bias else None
    y = gemm.projection(x, w, b)
    ref = F.linear(x, w, b)
    torch.testing.assert_close(y, ref, **F32)
    assert y.transpose(0, 1).is_contiguous()  # time-major storage: each step's rows together
    dy = torch.randn_like(y)
    leaves = [x, w] + ([b] if bias else [])
    for got, want in zip(torch.autograd.grad(y, leaves, dy), torch.autograd.grad(ref, leaves, dy)):
        torch.testing.assert_close(got, want, **F32)


def test_projection_of_a_time_major_input_reads_it_in_place():
    x = torch.randn(7, 5, 3).transpose(0, 1)  # (B, T, I) view of (T, B, I) storage
    w = torch.randn(8, 3)
    torch.testing.assert_close(gemm.projection(x, w), F.linear(x, w), **F32)
    assert gemm.projection(torch.randn(4, 3), w).shape == (4, 8)  # one step (B, I)


@pytest.mark.filterwarnings("ignore:TF32 acceleration")  # printed by mkldnn.flags itself
def test_float64_and_disabled_onednn_use_torch():
    x64 = torch.randn(4, 3, dtype=torch.float64)
    assert not gemm.use_onednn(x64, 1 << 30)
    with torch.backends.mkldnn.flags(enabled=False):
        assert not gemm.use_onednn(torch.randn(4, 3), 1 << 30)
    w = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(gemm.linear(x64, w), x64 @ w.T, rtol=0, atol=1e-12)


def test_gram_in_blocks_on_onednn_equals_the_product(monkeypatch):
    """The blocked oneDNN path (M, N >= GRAM_ONEDNN_MIN_WIDTH), with a last block cut short."""
    if not gemm.use_onednn(torch.ones(1), gemm.ONEDNN_MIN_MACS):
        pytest.skip("this torch has no oneDNN linear kernel")
    monkeypatch.setattr(gemm, "GRAM_BLOCK", 64)
    monkeypatch.setattr(gemm, "GRAM_ONEDNN_MIN_WIDTH", 8)
    monkeypatch.setattr(gemm, "ONEDNN_MIN_MACS", 0)
    a, b = torch.randn(300, 40)[:, 3:35], torch.randn(300, 12)
    torch.testing.assert_close(gemm.gram(a, b), a.T @ b, **F32)
