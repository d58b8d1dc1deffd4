r"""``NNZooClassifier``: an nnzoo model as a scikit-learn classifier, trained by nnzoo's loop.

The labels of ``y`` are encoded as k = 0..C-1 in the order of their sorted distinct values
(``classes_``). For an example x the model gives logits z (the ``classify`` task,
`nnzoo.tasks.classify`), and

.. math::
    \text{C > 2, or binary=False:}\quad p(k \mid x) = \operatorname{softmax}(z)_k,
        \qquad L = -\frac{1}{B} \sum_b \log p(y_b \mid x_b)

    \text{C = 2, binary="auto" or True:}\quad p(\text{classes\_[1]} \mid x) = \sigma(z),
        \qquad L = -\frac{1}{B} \sum_b \big[y_b \log \sigma(z_b) + (1 - y_b)
        \log(1 - \sigma(z_b))\big]

``fit`` builds a `nnzoo.config.RunConfig` from the estimator's parameters, the model from the
registry as a run does (`nnzoo.runs.train.build_model`: seeded by ``seed``) and trains it
with `nnzoo.engine.fit.fit` on ALL of X: a scikit-learn estimator holds no data out, so the
validation set is empty, nothing is evaluated between epochs and the model kept is the final
epoch's (``train.monitor`` is ``loss``, and no callback picks an epoch). The same ``seed``
gives the same model; the caller's torch random state is left as it was.

Inputs (shape legend: N examples, F features, T time steps, C channels, H height, W width):

* 2-D X (N, F), the scikit-learn layout, for every model: an image model (``mlp``, ``wider``,
  ``deeper``, ``vgg``) reads each row as a 1 x F image, which ``mlp`` flattens back to F
  features; a sequence model (``sequence-classifier``) reads each row as a univariate
  sequence of T = F steps.
* 3-D and 4-D X as the model takes them: (N, T, F) sequences of equal length for a sequence
  model, (N, H, W) or (N, C, H, W) images for an image model. ``n_features_in_`` is then
  ``X.shape[1]`` (scikit-learn's rule); predictions need the same per-example shape.

X may be float64 (or integers); the model trains in float32 and predicts in float64 from its
float32 weights. ``predict_proba`` returns float64 rows that sum to 1.

Example: the sonar experiment, ten-fold cross-validation of a one-hidden-layer MLP::

    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nnzoo.sklearn import NNZooClassifier

    clf = make_pipeline(
        StandardScaler(),
        NNZooClassifier("mlp", {"widths": [60]}, epochs=100, batch_size=5,
                        optimizer="sgd", lr=0.01, momentum=0.8),
    )
    scores = cross_val_score(clf, X, y, cv=StratifiedKFold(10, shuffle=True))  # y: "M"/"R"
    print(f"accuracy {scores.mean():.3f} +- {scores.std():.3f}")
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from nnzoo.config import DEVICE_PATTERN, TrainConfig, config_from_dict, field_range
from nnzoo.data.base import DataError, DataSplits, SequenceSet
from nnzoo.errors import ConfigError

try:
    from scipy.special import log_expit, log_softmax, softmax
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted
except ImportError:  # pragma: no cover - the dev extra has it
    raise ConfigError(
        "nnzoo.sklearn needs scikit-learn; install it with pip install scikit-learn"
    ) from None

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def validate_data(estimator: Any, /, X: Any, y: Any = "no_validation", **kwargs: Any):
        return estimator._validate_data(X, y, **kwargs)


__all__ = ["NNZooClassifier"]

_INTEGERS = ("epochs", "batch_size", "seed")
_NUMBERS = ("lr", "momentum", "weight_decay")


class NNZooClassifier(ClassifierMixin, BaseEstimator):
    """A registered nnzoo model, trained by `nnzoo.engine.fit.fit` on (X, y).

    Parameters are stored as given and checked by ``fit`` (scikit-learn's rule), each against
    the range its `nnzoo.config.TrainConfig` field declares.

    Args:
        model: a model of the registry (nnzoo list models): ``mlp`` (the default),
            ``sequence-classifier``, ``wider``, ...
        model_options: the model's keyword options, e.g. ``{"widths": [60], "activation":
            "relu"}`` for mlp, ``{"cell": "gru", "hidden": 16}`` for sequence-classifier;
            None: the model's defaults.
        epochs: passes over X.
        batch_size: examples per optimizer step (at least N: full-batch steps).
        lr: the learning rate.
        optimizer: sgd, adam, adamw or rmsprop.
        weight_decay: L2 penalty on the weights (decoupled for adamw).
        momentum: momentum of sgd and rmsprop.
        seed: seeds the initial weights, the order of the batches and the dropout masks.
        binary: "auto": one sigmoid output and the log loss when y has two classes, softmax
            otherwise; True: always the sigmoid (y must have two classes); False: always
            softmax.
        device: the torch device, e.g. cpu or cuda.
        verbose: print one line per epoch (the training loss and accuracy).

    Attributes:
        classes_: the sorted distinct labels of y; column k of ``predict_proba`` is
            ``classes_[k]``.
        n_features_in_: ``X.shape[1]`` (and ``feature_names_in_`` for a DataFrame).
        model_: the trained `torch.nn.Module`, in evaluation mode, on ``device``.
        history_: the loop's history, one dict per epoch (``epoch``, ``loss``, ``accuracy``,
            ``lr``, ``seconds``).
        run_config_: the `nnzoo.config.RunConfig` it was trained with (its ``[data]`` table is
            the default and unused: the data are X and y).
        binary_: whether the model has one sigmoid output.
        input_shape_: ``X.shape[1:]`` in fit; predictions need the same.
    """

    def __init__(
        self,
        model: str = "mlp",
        model_options: dict[str, Any] | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        seed: int = 0,
        binary: bool | str = "auto",
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.model_options = model_options
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.seed = seed
        self.binary = binary
        self.device = device
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # sequences and images (see the module docstring)
        return tags

    # -- training -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> NNZooClassifier:
        """Train a new model on all of (X, y).

        Args:
            X: (N, F) features, or (N, ...) sequences or images (see the module docstring).
            y: (N,) labels, numbers or strings, at least two distinct ones.

        Returns:
            self.

        Raises:
            ConfigError: a bad parameter, or an unknown model or model option.
            DataError: y with fewer than two classes.
            ValueError: X or y of the wrong shape, or with NaN or infinite values.
        """
        from nnzoo.engine.callbacks import EpochLine, NanGuard, NonFiniteLossError
        from nnzoo.engine.fit import fit
        from nnzoo.engine.runtime import check_device
        from nnzoo.runs.train import build_model
        from nnzoo.tasks import create_task

        params = self._checked_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], allow_nd=True)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(
                f"y has 1 class ({classes.tolist()[0]!r}); a classifier needs at least 2 classes"
            )
        binary = (self.binary == "auto" and len(classes) == 2) or self.binary is True
        if binary and len(classes) != 2:
            raise ConfigError(
                f"NNZooClassifier(binary=True): y has {len(classes)} classes; binary "
                "classification needs exactly 2; use binary='auto' or binary=False"
            )
        config = config_from_dict({
            "model": {"name": self.model, "options": dict(self.model_options or {})},
            "train": {**params, "monitor": "loss"},
            "task": {"name": "classify", "options": {"binary": binary}},
        })  # fmt: skip
        device = check_device(config.train.device)
        x = _inputs(X, config.model.name)  # unknown models raise here
        data = SequenceSet(x, torch.as_tensor(y_index, dtype=torch.long))
        none = data.subset(torch.arange(0))  # no validation split: train on all of X
        splits = DataSplits("X", data, none, none, [str(c) for c in classes])
        task = create_task(config.task)
        callbacks = [NanGuard()]
        if self.verbose:
            callbacks.append(EpochLine(type(self).__name__, keys=("loss", "accuracy")))
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # the caller's random state stays put
            model = build_model(config, splits, task)  # seeded by train.seed
            try:
                loop = fit(model, data, none, config, task=task, callbacks=callbacks)
            except NonFiniteLossError as e:
                raise NonFiniteLossError(
                    f"NNZooClassifier.fit: {str(e).split(';')[0]}; lower lr (now {self.lr!r})"
                ) from None
        self.classes_, self.run_config_, self.binary_ = classes, config, binary
        self.input_shape_ = tuple(X.shape[1:])
        self.model_ = model.eval()
        self.history_ = loop.history
        return self

    def _checked_params(self) -> dict[str, Any]:
        """The ``[train]`` table of the parameters, each checked with a one-line error."""
        from nnzoo.engine.fit import OPTIMIZERS

        def bad(name: str, expected: str) -> ConfigError:
            value = getattr(self, name)
            return ConfigError(f"NNZooClassifier({name}={value!r}): expected {expected}")

        params: dict[str, Any] = {}
        for name in (*_INTEGERS, *_NUMBERS):
            value, integer = getattr(self, name), name in _INTEGERS
            kind = numbers.Integral if integer else numbers.Real
            rule = field_range(TrainConfig, name)
            if isinstance(value, bool | np.bool_) or not isinstance(value, kind):
                raise bad(name, rule.describe(integer))
            value = int(value) if integer else float(value)
            if value not in rule:
                raise bad(name, rule.describe(integer))
            params[name] = value
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"one of {', '.join(map(repr, OPTIMIZERS))}")
        if not (isinstance(self.device, str) and DEVICE_PATTERN.fullmatch(self.device)):
            raise bad("device", "'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or 'xpu'")
        if not (isinstance(self.model, str) and self.model):
            raise bad("model", "a model name (nnzoo list models), e.g. 'mlp'")
        if self.model_options is not None and not isinstance(self.model_options, Mapping):
            raise bad("model_options", "a dict of the model's options, or None")
        if not any(self.binary is choice for choice in (True, False)) and self.binary != "auto":
            raise bad("binary", "'auto', True or False")
        return {**params, "optimizer": self.optimizer, "device": self.device}

    # -- predictions --------------------------------------------------------------------------
    def decision_function(self, X: Any) -> np.ndarray:
        """The model's logits, float64: (N,) for a binary model (> 0: ``classes_[1]``), else
        (N, n_classes).

        They are computed in float64 from the float32 weights (float32 on mps), so that a row's
        prediction does not depend on the rows it is batched with (float32 products do, in
        their last digits).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float32, np.float64], allow_nd=True, reset=False)
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has examples of shape {tuple(X.shape[1:])}, but NNZooClassifier was "
                f"fitted on examples of shape {self.input_shape_}; pass data shaped as in fit"
            )
        from nnzoo.tasks import create_task
        from nnzoo.tasks.base import move

        task = create_task(self.run_config_.task)
        x = _inputs(X, self.run_config_.model.name)
        data = SequenceSet(x, torch.zeros(len(X), dtype=torch.long))
        from nnzoo.engine.runtime import resolve_device

        device = resolve_device(self.run_config_.train.device)
        dtype = torch.float32 if device.type == "mps" else torch.float64  # mps has no float64
        weights = {
            name: t.to(dtype) if t.is_floating_point() else t
            for name, t in (*self.model_.named_parameters(), *self.model_.named_buffers())
        }
        self.model_.eval()
        out = []
        with torch.no_grad():
            for x, _, lengths in task.batches(data, task.eval_batch_size):
                x, lengths = move((x.to(dtype), lengths), device)
                z = torch.func.functional_call(self.model_, weights, (x, lengths))
                out.append(z.double().cpu())  # (B, C) or (B, 1)
        z = torch.cat(out).numpy()
        return z[:, 0] if self.binary_ else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """(N, n_classes) float64 probabilities, rows summing to 1 (binary: [1 - p, p])."""
        z = self.decision_function(X)
        if self.binary_:
            return np.exp(np.stack([log_expit(-z), log_expit(z)], axis=1))
        return softmax(z, axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of `predict_proba`, computed from the logits (no log of 0)."""
        z = self.decision_function(X)
        if self.binary_:
            return np.stack([log_expit(-z), log_expit(z)], axis=1)
        return log_softmax(z, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """(N,) labels from ``classes_``: the most probable class of each example."""
        probs = self.predict_proba(X)  # (N, n_classes)
        return self.classes_[np.argmax(probs, axis=1)]


def _inputs(X: np.ndarray, model: str) -> torch.Tensor:
    """X as the model reads it, float32: 2-D rows become (N, 1, F) images for an image
    model and (N, F, 1) univariate sequences for a sequence model."""
    from nnzoo.models import takes_input_shape

    x = torch.tensor(X, dtype=torch.float32)
    if x.dim() == 2:
        image = takes_input_shape(model)
        x = x.unsqueeze(1 if image else 2)  # (N, 1, F) or (N, F, 1)
    return x
