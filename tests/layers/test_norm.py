"""TimeBatchNorm against a NumPy batch norm written from its equations.

Training, over the rows r that are really there (mask m_r = 1), at step t:

    n = sum_r m_r,   mu = sum_r m_r x_r / n,   sigma^2 = sum_r m_r (x_r - mu)^2 / n
    y_r = gamma (x_r - mu) / sqrt(sigma^2 + eps) + beta
    running_mean[t] <- (1 - momentum) running_mean[t] + momentum mu
    running_var[t]  <- (1 - momentum) running_var[t]  + momentum sigma^2 n / (n - 1)

(the running variance takes the unbiased estimate, as torch.nn.BatchNorm1d does). In eval each row
uses the population statistics of its own step, the last step's beyond ``max_length``.
"""

import numpy as np
import pytest
import torch

from nnzoo.layers.norm import TimeBatchNorm

EPS, MOMENTUM = 1e-5, 0.1


def numpy_batch_norm(x, mask, gamma, beta, running_mean, running_var):
    """(y, new running mean, new running var) of one training step; mask (B,) of 0/1."""
    w = mask.astype(np.float64)[:, None]  # (B, 1)
    n = w.sum()
    mu = (w * x).sum(0) / n  # (F,)
    var = (w * (x - mu) ** 2).sum(0) / n
    y = gamma * (x - mu) / np.sqrt(var + EPS) + beta
    new_mean = (1 - MOMENTUM) * running_mean + MOMENTUM * mu
    new_var = (1 - MOMENTUM) * running_var + MOMENTUM * var * n / (n - 1)
    return y, new_mean, new_var


def module(features=6, max_length=3, shift=True, seed=0):
    torch.manual_seed(seed)
    bn = TimeBatchNorm(features, max_length=max_length, gamma=0.7, shift=shift).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        if shift:
            bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    return bn


def numpy_of(bn):
    beta = bn.bias.detach().numpy() if bn.bias is not None else 0.0
    return bn.weight.detach().numpy(), beta


# the fused path (no mask), the masked path with every row there, and padded rows
MASKS = {
    "no mask": None,
    "all rows": [1] * 10,
    "padded rows": [1, 0, 1, 1, 0, 0, 1, 1, 0, 1],
    "two rows": [0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
}


@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("name", list(MASKS))
def test_training_matches_numpy_over_the_rows_that_are_there(name, shift):
    bn = module(shift=shift)
    step = 2
    gamma, beta = numpy_of(bn)
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    x = torch.randn(10, 6, dtype=torch.float64) * 3 + 1
    keep = np.ones(10) if MASKS[name] is None else np.array(MASKS[name])
    if MASKS[name] is not None:
        x[keep == 0] = 1e3 * torch.randn(int((keep == 0).sum()), 6, dtype=torch.float64)
    mask = None if MASKS[name] is None else torch.tensor(keep, dtype=torch.bool)[:, None]

    y = bn(x, torch.full((10,), step), mask)
    expected, mean, var = numpy_batch_norm(
        x.numpy(), keep, gamma, beta, before_mean[step].numpy(), before_var[step].numpy()
    )
    rows = keep == 1  # padded rows' outputs are discarded by the scan; only real ones count
    np.testing.assert_allclose(y.detach().numpy()[rows], expected[rows], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean[step].numpy(), mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_var[step].numpy(), var, rtol=1e-12, atol=1e-12)
    others = [0, 1]  # the other steps' statistics are left as they were
    assert torch.equal(bn.running_mean[others], before_mean[others])
    assert torch.equal(bn.running_var[others], before_var[others])


def test_padded_rows_do_not_change_outputs_or_statistics():
    keep = torch.tensor([1, 0, 1, 1, 0, 1], dtype=torch.bool)[:, None]
    x = torch.randn(6, 4, dtype=torch.float64)
    results = []
    for pad in (0.0, 1e6):
        bn = module(features=4, max_length=2)
        x_pad = torch.where(keep, x, torch.full_like(x, pad))
        y = bn(x_pad, torch.ones(6, dtype=torch.long), keep)
        results.append((y[keep[:, 0]], bn.running_mean.clone(), bn.running_var.clone()))
    (y0, m0, v0), (y1, m1, v1) = results
    torch.testing.assert_close(y0, y1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m0, m1, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(v0, v1, rtol=1e-12, atol=1e-12)


def test_repeated_training_steps_follow_the_momentum_recursion():
    bn = module(features=3, max_length=1)
    gamma, beta = numpy_of(bn)
    mean, var = bn.running_mean[0].numpy().copy(), bn.running_var[0].numpy().copy()
    g = np.random.default_rng(0)
    for _ in range(4):
        x = g.normal(2.0, 3.0, size=(7, 3))
        keep = (g.random(7) < 0.7).astype(int)
        keep[:2] = 1  # at least two real rows
        mask = torch.tensor(keep, dtype=torch.bool)[:, None]
        y = bn(torch.tensor(x), torch.full((7,), 5), mask)  # step 5 uses the last statistics
        expected, mean, var = numpy_batch_norm(x, keep, gamma, beta, mean, var)
        np.testing.assert_allclose(y.detach().numpy()[keep == 1], expected[keep == 1], rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean[0].numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var[0].numpy(), var, rtol=1e-12)


def test_masked_gradients_match_finite_differences():
    bn = module(features=3, max_length=2)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([1, 1, 0, 1, 0], dtype=torch.bool)[:, None]
    t = torch.zeros(5, dtype=torch.long)
    assert torch.autograd.gradcheck(lambda x, w, b: bn(x, t, mask) * mask, (x, bn.weight, bn.bias))


def test_eval_uses_each_rows_own_step_statistics():
    bn = module(features=4, max_length=3).eval()
    gamma, beta = numpy_of(bn)
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    x = torch.randn(5, 4, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 3, 9])  # steps 3 and 9 reuse the last statistics (step 2)
    step = np.minimum(t.numpy(), 2)
    expected = gamma * (x.numpy() - mean[step]) / np.sqrt(var[step] + EPS) + beta
    before = bn.running_mean.clone(), bn.running_var.clone()
    np.testing.assert_allclose(bn(x, t).detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])


def test_masked_equals_torch_batch_norm_on_the_real_rows_alone():
    bn = module(features=5, max_length=2)
    keep = torch.tensor([1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    x = torch.randn(7, 5, dtype=torch.float64)
    reference = torch.nn.BatchNorm1d(5, eps=EPS, momentum=MOMENTUM).double()
    with torch.no_grad():
        reference.weight.copy_(bn.weight)
        reference.bias.copy_(bn.bias)
        reference.running_mean.copy_(bn.running_mean[1])
        reference.running_var.copy_(bn.running_var[1])
    y = bn(x, torch.ones(7, dtype=torch.long), keep[:, None])
    expected = reference(x[keep])
    torch.testing.assert_close(y[keep], expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bn.running_mean[1], reference.running_mean, rtol=1e-12, atol=0)
    torch.testing.assert_close(bn.running_var[1], reference.running_var, rtol=1e-12, atol=0)


def test_ragged_batches_move_the_statistics_of_the_running_rows_step():
    """The scan's masked loop: a sequence that has ended keeps its step (row 0 ends first here),
    the batch statistics at step t are those of the sequences longer than t, and only step t's
    population statistics move; steps no sequence reaches (t >= 5) move nothing."""
    bn = module(features=4, max_length=6)
    gamma, beta = numpy_of(bn)
    lengths = np.array([2, 5, 3, 5, 1])
    B, T = 5, 8  # steps 6 and 7 would share the last statistics (max_length 6)
    x = torch.randn(B, T, 4, dtype=torch.float64) * 2 + 1
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    steps = torch.zeros(B, dtype=torch.long)
    for t in range(T):
        running = lengths > t
        mask = torch.tensor(running)[:, None]
        y = bn(x[:, t], steps, mask)
        steps = torch.where(mask[:, 0], steps + 1, steps)
        if running.any():
            row = min(t, 5)
            expected, mean[row], var[row] = numpy_batch_norm(
                x[:, t].numpy(), running.astype(int), gamma, beta, mean[row], var[row]
            )
            np.testing.assert_allclose(
                y.detach().numpy()[running], expected[running], rtol=1e-10, atol=1e-12
            )
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-12, atol=1e-12)


def test_no_running_row_leaves_the_statistics_alone():
    bn = module(features=3, max_length=2)
    before = bn.running_mean.clone(), bn.running_var.clone()
    mask = torch.zeros(4, 1, dtype=torch.bool)
    bn(torch.randn(4, 3, dtype=torch.float64), torch.ones(4, dtype=torch.long), mask)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
