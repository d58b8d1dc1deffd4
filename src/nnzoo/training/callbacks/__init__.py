"""Keras-named callbacks for ``fit``; one per file."""

from nnzoo.training.callbacks.base import Callback
from nnzoo.training.callbacks.convergence import Convergence
from nnzoo.training.callbacks.early_stopping import EarlyStopping
from nnzoo.training.callbacks.evaluate_split import EvaluateSplit
from nnzoo.training.callbacks.gradient_clipping import GradientClipping
from nnzoo.training.callbacks.metrics_logger import MetricsLogger
from nnzoo.training.callbacks.model_checkpoint import ModelCheckpoint
from nnzoo.training.callbacks.nan_guard import NanGuard, NonFiniteLossError
from nnzoo.training.callbacks.progress_bar import ProgressBar
from nnzoo.training.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from nnzoo.training.callbacks.step_decay import StepDecay
from nnzoo.training.callbacks.tensorboard import TensorBoard

__all__ = [
    "Callback",
    "Convergence",
    "EarlyStopping",
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
]
