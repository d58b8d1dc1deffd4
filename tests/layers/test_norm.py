import torch
import torch.nn.functional as F

from nnzoo.layers.norm import TimeBatchNorm


def test_training_matches_torch_batch_norm():
    bn = TimeBatchNorm(6, max_length=3, gamma=0.7).double()
    with torch.no_grad():
        bn.bias.normal_()
    x = torch.randn(10, 6, dtype=torch.float64)
    y = bn(x, torch.full((10,), 2))
    rm, rv = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    expected = F.batch_norm(x, rm, rv, bn.weight, bn.bias, training=True, momentum=0.1)
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(bn.running_mean[2], rm, atol=1e-12, rtol=0)
    torch.testing.assert_close(bn.running_var[2], rv, atol=1e-12, rtol=0)
    assert torch.all(bn.running_mean[:2] == 0)


def test_eval_uses_each_rows_own_step():
    bn = TimeBatchNorm(2, max_length=2).double().eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([[1.0, 1.0], [5.0, 5.0]]))
    x = torch.full((3, 2), 5.0, dtype=torch.float64)
    y = bn(x, torch.tensor([0, 1, 9]))  # step 9 reuses the last statistics
    assert y[0, 0] > 0 and y[1, 0] == 0 and y[2, 0] == 0
