import pytest
import torch

from tests.cells.torch_reference import check_cell_against_torch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gru_equals_torch_gru_cell(dtype, bias):
    check_cell_against_torch("gru", torch.nn.GRUCell, dtype, bias=bias)
