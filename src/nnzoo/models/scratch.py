r"""The NumPy from-scratch models (`nnzoo.scratch`) as registry models that ``fit`` trains.

A NumPy model is not an ``nn.Module``, and the training loop does not need it to be: the one
adapter here, `NumpyModule`, lets `nnzoo.engine.fit` drive any `nnzoo.scratch.ScratchModel`
as it drives a torch network, with no line of the loop, the optimizers, the callbacks or the
checkpoints knowing the difference.

* Its parameters are the model's own arrays: each ``nn.Parameter`` is ``torch.from_numpy`` of
  the array, so the two share memory. An optimizer's in-place update is the update of the
  NumPy array (plain SGD is the course's :math:`W \leftarrow W - \alpha\, dW`), and loading a
  checkpoint copies into the arrays.
* Its forward pass is one ``torch.autograd.Function``: forward calls the model's NumPy
  ``forward`` and keeps its cache; backward receives :math:`dZ = \partial L / \partial Z`
  from the task's loss and returns the model's hand-written NumPy ``backward``. Every number
  of the forward and backward passes through the network is NumPy's; torch only computes the
  loss of the logits (the same cross-entropy the task applies to every model) and its
  :math:`dZ = (A - Y) / m`.
* Dropout masks come from a NumPy generator seeded from torch's stream, which ``fit`` reseeds
  each epoch, so a resumed run draws the masks of an uninterrupted one.
* NumPy's BLAS uses as many threads as torch (`limit_blas_threads`).

The course's L2 penalty :math:`\frac{\lambda}{2m}\sum_l \lVert W^{[l]} \rVert_F^2` enters the
gradient in the model's backward (:math:`+\frac{\lambda}{m} W^{[l]}`); the loss a run logs is
the cross-entropy alone, as torch's ``weight_decay`` logs it.

Layout: the scratch models keep the course's (features, examples) layout; the adapter
transposes. An image example (C, H, W) is flattened in the order of the cat/non-cat HDF5 files
and of the course, row, column, channel (``x.permute(0, 2, 3, 1)``), so that a weight column
meets the pixel it meets in the course. A sequence (B, T, F) becomes (F, B, T).

Models (``model.name``): ``scratch-logistic`` (logistic regression), ``scratch-mlp`` (the
L-layer network) and ``scratch-rnn`` (an Elman RNN read at its last step). They compute in
float64, whatever the data's dtype. Like every registry model, their sizes are checked on
torch's meta device before anything is allocated (`nnzoo.models.check_size`): there, the
adapter makes meta tensors of the arrays' shapes instead of building the NumPy model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.models.image import check_widths


def _seed() -> int:
    """A NumPy seed drawn from torch's stream (seeded by the run's ``train.seed``)."""
    return int(torch.randint(0, 2**62, (1,)).item())


def limit_blas_threads() -> None:
    """NumPy's BLAS takes as many threads as torch has (the run's ``train.threads``).

    OpenBLAS starts one thread per core and spins them; on a machine that is doing anything
    else, a (20, 12288) x (12288, 209) product then takes 20-80 ms instead of 9 ms on one
    thread. The limit stays for the process, as torch's own thread count does."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return
    threadpool_limits(limits=torch.get_num_threads(), user_api="blas")


class _Through(torch.autograd.Function):
    """Z = model.forward(X); dX is not needed, dparams = model.backward(dZ)."""

    @staticmethod
    def forward(ctx, x: Tensor, module: NumpyModule, *params: Tensor) -> Tensor:
        X = module.to_layout(x.detach().to(torch.float64).cpu().numpy())
        rng = np.random.default_rng(_seed()) if module.training else None
        Z, cache = module.net.forward(X, train=module.training, rng=rng)
        ctx.module, ctx.cache = module, cache
        return torch.from_numpy(np.ascontiguousarray(module.from_layout(Z)))

    @staticmethod
    def backward(ctx, grad: Tensor):
        module = ctx.module
        dZ = module.to_output_layout(grad.detach().to(torch.float64).cpu().numpy())
        grads = module.net.backward(dZ, ctx.cache)
        ctx.cache = None
        return (
            None,
            None,
            *(torch.from_numpy(np.ascontiguousarray(grads[name])) for name in module.names),
        )


class NumpyModule(nn.Module):
    """A `nnzoo.scratch.ScratchModel` that ``fit`` can train; see the module docstring.

    Args:
        build: makes the NumPy model (called once, off the meta device).
        shapes: ``{name: shape}`` of its parameters, for the meta-device size check.
        sequence: the input is (B, T, F) sequences rather than flat or image examples.
    """

    def __init__(
        self,
        build: Callable[[], Any],
        shapes: dict[str, tuple[int, ...]],
        *,
        sequence: bool = False,
    ) -> None:
        super().__init__()
        self.sequence = sequence
        self.names = list(shapes)
        if torch.empty(0).device.type == "meta":  # the size check: shapes, no memory
            self.net = None
            for name, shape in shapes.items():
                self.register_parameter(name, nn.Parameter(torch.empty(shape, dtype=torch.float64)))
            return
        limit_blas_threads()
        self.net = build()
        for name in self.names:
            array = self.net.params[name]
            if not (array.dtype == np.float64 and array.flags.c_contiguous):
                raise TypeError(f"{name}: expected a C-contiguous float64 array")
            self.register_parameter(name, nn.Parameter(torch.from_numpy(array)))

    def _apply(self, fn, recurse=True):
        """``.to(device)`` and dtype changes would copy the parameters away from the arrays the
        NumPy model reads; only the CPU in float64 is allowed."""
        probe = fn(torch.empty(0, dtype=torch.float64))
        if probe.device.type != "cpu" or probe.dtype != torch.float64:
            raise ConfigError(
                f"the scratch models are NumPy code: they run on the cpu in float64, not "
                f'{probe.device.type} {probe.dtype}; set train.device = "cpu"'
            )
        return self

    def to_layout(self, x: np.ndarray) -> np.ndarray:
        """(B, T, F) -> (F, B, T) for sequences; (B, C, H, W) -> (H*W*C, B); (B, ...) -> (D, B)."""
        if self.sequence:
            return x.transpose(2, 0, 1)
        if x.ndim == 4:
            x = x.transpose(0, 2, 3, 1)  # row, column, channel: the course's pixel order
        return x.reshape(len(x), -1).T  # a view where it can be: BLAS takes either order

    @staticmethod
    def from_layout(Z: np.ndarray) -> np.ndarray:
        """(n_y, B) -> (B, n_y)."""
        return Z.T

    @staticmethod
    def to_output_layout(dZ: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(dZ.T)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, ...) -> logits (B, n_y) in float64."""
        if self.sequence and x.dim() != 3:
            raise ConfigError(
                f"x: expected (B, T, F) sequences for the scratch RNN, got shape "
                f"{tuple(x.shape)}; give sequence data, or use scratch-mlp for images and tables"
            )
        if lengths is not None and not bool((lengths == x.shape[1]).all()):
            raise ConfigError(
                "the scratch RNN reads full-length sequences only; give sequences of one "
                'length, or use model.name = "sequence-classifier" with cell = "elman"'
            )
        return _Through.apply(x, self, *(getattr(self, n) for n in self.names))

    def extra_repr(self) -> str:
        return type(self.net).__name__ if self.net is not None else "meta"


def _features(input_shape: Sequence[int]) -> int:
    shape = tuple(input_shape)
    if not shape or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ConfigError(f"input_shape={shape!r}: expected sizes >= 1")
    return math.prod(shape)


def _outputs(num_classes: int) -> tuple[int, str]:
    """One sigmoid output (binary classification) or a softmax over the classes."""
    return (1, "sigmoid") if num_classes == 1 else (num_classes, "softmax")


def _rng(init_seed: int | None) -> np.random.Generator | np.random.RandomState:
    """The course's legacy stream (``np.random.seed(init_seed)``) when a seed is given, else a
    generator seeded from the run's ``train.seed``."""
    if init_seed is None:
        return np.random.default_rng(_seed())
    if isinstance(init_seed, bool) or not isinstance(init_seed, int) or init_seed < 0:
        raise ConfigError(f"init_seed={init_seed!r}: expected an integer >= 0, or leave it unset")
    return np.random.RandomState(init_seed)


@MODELS.register("scratch-logistic")
def scratch_logistic(input_shape: Sequence[int], num_classes: int) -> NumpyModule:
    """Logistic regression, zero-initialised as in the course: `nnzoo.scratch.LogisticRegression`
    (one sigmoid output, ``task.options.binary = true``), or for C classes its softmax form, a
    `nnzoo.scratch.DeepNetwork` with no hidden layer (W1 (C, n_x), b1 (C, 1))."""
    from nnzoo.scratch import DeepNetwork, LogisticRegression

    n_x = _features(input_shape)
    if num_classes == 1:
        return NumpyModule(lambda: LogisticRegression(n_x), {"w": (n_x, 1), "b": (1, 1)})

    def softmax_regression() -> DeepNetwork:
        return DeepNetwork([n_x, num_classes], output="softmax", init="zeros", rng=None)

    return NumpyModule(softmax_regression, {"W1": (num_classes, n_x), "b1": (num_classes, 1)})


@MODELS.register("scratch-mlp")
def scratch_mlp(
    input_shape: Sequence[int],
    num_classes: int,
    widths: Sequence[int] = (20, 7, 5),
    hidden: str = "relu",
    init: str = "he",
    scale: float = 0.01,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    init_seed: int | None = None,
) -> NumpyModule:
    """The L-layer network (`nnzoo.scratch.DeepNetwork`): ``widths`` hidden layers of the
    ``hidden`` activation, a sigmoid output (binary) or softmax. ``init`` is zeros, random
    (x ``scale``), he, xavier or course; ``init_seed`` draws the weights from NumPy's legacy
    stream as the course does (``np.random.seed(1)``), else from the run's seed."""
    from nnzoo.scratch import DeepNetwork

    widths = check_widths("model.options.widths", widths, allow_empty=True)
    n_y, output = _outputs(num_classes)
    dims = [_features(input_shape), *widths, n_y]
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(1, len(dims)):
        shapes[f"W{layer}"] = (dims[layer], dims[layer - 1])
        shapes[f"b{layer}"] = (dims[layer], 1)

    def build() -> DeepNetwork:
        return DeepNetwork(
            dims, hidden=hidden, output=output, init=init, lambd=lambd,
            keep_prob=keep_prob, rng=_rng(init_seed), scale=scale,
        )  # fmt: skip

    return NumpyModule(build, shapes)


@MODELS.register("scratch-rnn")
def scratch_rnn(
    num_features: int, num_classes: int, hidden: int = 32, scale: float = 0.01
) -> NumpyModule:
    """An Elman RNN with backpropagation through time (`nnzoo.scratch.ElmanRNN`), read at its
    last step (many-to-one), weights drawn as randn x ``scale``."""
    from nnzoo.scratch import ElmanRNN

    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ConfigError(f"model.options.hidden={hidden!r}: expected an integer >= 1")
    n_y, output = _outputs(num_classes)
    shapes = {
        "Wax": (hidden, num_features),
        "Waa": (hidden, hidden),
        "ba": (hidden, 1),
        "Wya": (n_y, hidden),
        "by": (n_y, 1),
    }

    def build() -> ElmanRNN:
        return ElmanRNN(num_features, hidden, n_y, output=output, rng=_rng(None), scale=scale)

    return NumpyModule(build, shapes, sequence=True)
