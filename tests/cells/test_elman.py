import pytest
import torch

import nnzoo
from tests.cells.torch_reference import check_cell_against_torch


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_elman_equals_torch_rnn_cell(dtype, nonlinearity):
    check_cell_against_torch("elman", torch.nn.RNNCell, dtype, nonlinearity=nonlinearity)


def test_elman_rejects_an_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity='sigmoid': expected one of 'tanh', 'relu'"):
        nnzoo.create_cell("elman", 3, 4, nonlinearity="sigmoid")
