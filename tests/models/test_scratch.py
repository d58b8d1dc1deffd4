"""The NumPy models through nnzoo's seam: ``fit`` drives them as it drives torch networks.

References: the NumPy model's own cost gradient (``ScratchModel.gradients``, itself proven by
finite differences and against torch twins in tests/scratch) and plain NumPy gradient descent
written here, ``p -= lr * g``; nothing is compared with the adapter's own output.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.data.base import DataSplits, SequenceSet
from nnzoo.engine.fit import fit
from nnzoo.errors import ConfigError
from nnzoo.models import check_model, create_model
from nnzoo.models.scratch import NumpyModule

pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n=48, features=5, seed=0):
    """Two Gaussian blobs, labels 0/1, float32 as a reader gives them."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, features)) + 1.5 * y[:, None]
    return SequenceSet(torch.tensor(x, dtype=torch.float32), torch.tensor(y))


def config(model, epochs=5, lr=0.1, batch=1000, binary=True, **train):
    return RunConfig(
        data=DataConfig(),
        model=model,
        train=TrainConfig(epochs=epochs, batch_size=batch, lr=lr, optimizer="sgd", **train),
        task=TaskConfig("classify", {"binary": binary}),
    )


def build(name, num_classes=1, input_shape=(5,), **options):
    torch.manual_seed(0)
    return create_model(ModelConfig(name=name, options=options), 5, num_classes, input_shape)


@pytest.mark.parametrize(
    ("name", "options", "classes"),
    [
        ("scratch-logistic", {}, 1),
        ("scratch-logistic", {}, 3),
        ("scratch-mlp", {"widths": [4, 3], "hidden": "tanh", "lambd": 0.3}, 1),
        ("scratch-mlp", {"widths": [4], "hidden": "elu"}, 3),
    ],
)
def test_gradients_through_the_adapter_are_the_numpy_models(name, options, classes):
    data = blobs()
    model = build(name, classes, **options)
    if name == "scratch-logistic":  # zero-initialised: move off the symmetric point
        for array in model.net.params.values():
            array[:] = np.linspace(-0.2, 0.2, array.size).reshape(array.shape)
    y = data.y % classes if classes > 1 else data.y
    logits = model(data.x)
    if classes == 1:
        loss = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.double())
    else:
        loss = F.cross_entropy(logits, y)
    loss.backward()
    X = data.x.double().numpy().T  # (n_x, m)
    Y = y.numpy()[None, :] if classes == 1 else y.numpy()
    cost, grads = model.net.gradients(X, Y)
    assert loss.item() + model.net.penalty(len(y)) == pytest.approx(cost, rel=1e-12)
    for name_, param in model.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name_], rtol=1e-10, atol=1e-13)


def test_fit_is_gradient_descent_on_the_numpy_arrays():
    """Full-batch SGD through fit = the course's loop: p -= lr * dp, 5 iterations."""
    data = blobs()
    options = {"widths": [4, 3], "hidden": "relu", "lambd": 0.2}
    trained = build("scratch-mlp", **options)
    reference = build("scratch-mlp", **options)  # same seed: same initial arrays
    arrays = {k: v.copy() for k, v in reference.net.params.items()}
    X, Y = data.x.double().numpy().T, data.y.numpy()[None, :]
    costs = []
    for _ in range(5):
        cost, grads = reference.net.gradients(X, Y)
        costs.append(cost - reference.net.penalty(len(data)))  # fit logs the data term
        for key in arrays:
            reference.net.params[key] -= 0.1 * grads[key]
    loop = fit(trained, data, data.subset(torch.arange(0)), config(ModelConfig("scratch-mlp",
               options)))  # fmt: skip
    for key, value in reference.net.params.items():
        np.testing.assert_allclose(trained.net.params[key], value, rtol=1e-12, atol=1e-15)
        assert trained.net.params[key] is not arrays[key]
    np.testing.assert_allclose([h["loss"] for h in loop.history], costs, rtol=1e-12)
    # the parameters are the arrays: an in-place update of one is seen by the other
    assert np.shares_memory(trained.W1.detach().numpy(), trained.net.params["W1"])


def test_dropout_masks_follow_the_run_seed():
    data = blobs()
    model_config = ModelConfig("scratch-mlp", {"widths": [8], "keep_prob": 0.6})
    runs = []
    for seed in (0, 0, 1):
        cfg = config(model_config, epochs=3, seed=seed)
        torch.manual_seed(0)
        model = create_model(cfg.model, 5, 1, (5,))
        fit(model, data, data.subset(torch.arange(0)), cfg)
        runs.append(model.net.params["W1"].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_sizes_are_checked_on_the_meta_device_without_allocating():
    huge = ModelConfig("scratch-mlp", {"widths": [1_000_000, 1_000_000]})
    with pytest.raises(ConfigError, match="above the limit") as info:
        check_model(huge)
    assert "model.options.widths" in str(info.value)
    with torch.device("meta"):
        meta = create_model(ModelConfig("scratch-logistic"), 5, 1, (3, 4, 4)).__class__
    assert meta is NumpyModule


def test_image_pixels_are_flattened_row_column_channel():
    """The course's order: x_orig.reshape(m, -1).T of (m, H, W, C) images."""
    model = build("scratch-logistic", input_shape=(3, 2, 2))
    images = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)  # (B, C, H, W)
    course = images.permute(0, 2, 3, 1).numpy().reshape(2, -1).T
    np.testing.assert_array_equal(model.to_layout(images.numpy()), course)


def test_the_numpy_models_refuse_other_devices_and_dtypes():
    model = build("scratch-logistic")
    with pytest.raises(ConfigError, match="run on the cpu in float64"):
        model.float()
    model.to("cpu")  # allowed, and still the same arrays
    assert np.shares_memory(model.w.detach().numpy(), model.net.params["w"])


def test_scratch_logistic_with_classes_is_zero_initialised_softmax_regression():
    model = build("scratch-logistic", num_classes=3)
    assert [n for n, _ in model.named_parameters()] == ["W1", "b1"]
    assert model.W1.shape == (3, 5) and not model.W1.detach().any()
    logits = model(blobs().x)
    assert logits.shape == (48, 3) and not logits.any()  # every class equally likely


def test_a_scratch_run_trains_checkpoints_and_loads_back(tmp_path):
    """nnzoo's run folder, checkpoints and evaluation, unchanged, for a NumPy model."""
    from nnzoo.runs.train import train_run
    from nnzoo.runs.trained import load_trained

    data = blobs(64)
    splits = DataSplits("blobs", data.subset(torch.arange(40)), data.subset(torch.arange(40, 52)),
                        data.subset(torch.arange(52, 64)), ["a", "b"], {})  # fmt: skip
    cfg = config(ModelConfig("scratch-mlp", {"widths": [6]}), epochs=8, checkpoint_every=3)
    results = train_run(cfg, tmp_path / "run", splits=splits, progress=False, write_report=False)
    trained = load_trained(tmp_path / "run", "last")
    probs = torch.sigmoid(trained.model(splits.test.x)).squeeze(-1)
    accuracy = float(((probs >= 0.5).long() == splits.test.y).double().mean())
    assert results["final_epoch_test"]["accuracy"] == pytest.approx(accuracy)
    assert results["params"] == 5 * 6 + 6 + 6 + 1
