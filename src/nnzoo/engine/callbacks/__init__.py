"""Keras-named callbacks for ``fit``; one per file."""

from nnzoo.engine.callbacks.base import Callback
from nnzoo.engine.callbacks.convergence import Convergence
from nnzoo.engine.callbacks.early_stopping import EarlyStopping
from nnzoo.engine.callbacks.epoch_line import EpochLine
from nnzoo.engine.callbacks.evaluate_split import EvaluateSplit
from nnzoo.engine.callbacks.gradient_clipping import GradientClipping
from nnzoo.engine.callbacks.metrics_logger import MetricsLogger
from nnzoo.engine.callbacks.model_checkpoint import ModelCheckpoint
from nnzoo.engine.callbacks.nan_guard import NanGuard, NonFiniteLossError
from nnzoo.engine.callbacks.progress_bar import ProgressBar
from nnzoo.engine.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from nnzoo.engine.callbacks.step_decay import StepDecay
from nnzoo.engine.callbacks.tensorboard import TensorBoard
from nnzoo.engine.callbacks.time_limit import TimeLimit

__all__ = [
    "Callback",
    "Convergence",
    "EarlyStopping",
    "EpochLine",
    "EvaluateSplit",
    "GradientClipping",
    "MetricsLogger",
    "ModelCheckpoint",
    "NanGuard",
    "NonFiniteLossError",
    "ProgressBar",
    "ReduceLROnPlateau",
    "StepDecay",
    "TensorBoard",
    "TimeLimit",
]
