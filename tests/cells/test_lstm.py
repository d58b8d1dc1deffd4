import pytest
import torch

from tests.cells.torch_reference import check_cell_against_torch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstm_equals_torch_lstm_cell(dtype, bias):
    check_cell_against_torch("lstm", torch.nn.LSTMCell, dtype, bias=bias)
