"""Classification metrics on class indices: accuracy, confusion matrix, per-class report.

Labels are integer class indices in [0, C), given as torch tensors, NumPy arrays or lists, any
shape (they are flattened; y_true and y_pred must have the same number of elements). Counts are
exact (int64); rates are Python floats computed in float64.

Zero division: a class that is never predicted has precision 0.0, a class with no true samples
has recall 0.0, and F1 = 2 TP / (2 TP + FP + FN) is 0.0 when TP + FP + FN = 0. This is
scikit-learn's ``zero_division=0.0``; the macro average still includes such classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnzoo.errors import ConfigError

RATES = ("precision", "recall", "f1")


def as_labels(labels: Any, name: str = "labels") -> Tensor:
    """Class indices (tensor, array or list of integers) -> flat int64 tensor."""
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    elif not isinstance(labels, Tensor):
        labels = torch.as_tensor(labels)
    if labels.numel() == 0:  # torch.as_tensor([]) is float32
        return labels.reshape(-1).long()
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ConfigError(
            f"{name}: expected integer class indices, got {labels.dtype}; "
            "take argmax over the class dimension first"
        )
    return labels.reshape(-1).long()


def _pair(y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    y_true, y_pred = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    if y_true.numel() != y_pred.numel():
        raise ConfigError(
            f"y_pred: expected as many labels as y_true ({y_true.numel()}), got {y_pred.numel()}"
        )
    if y_true.numel() == 0:
        raise ConfigError("y_true: no labels; metrics need at least one sample")
    return y_true, y_pred.to(y_true.device)


def accuracy(logits_or_pred: Any, y: Any) -> float:
    """Fraction of correct predictions.

    Args:
        logits_or_pred: scores (..., C), one more dimension than ``y`` (argmax over the last
            one is taken), or predicted class indices shaped like ``y``.
        y: true class indices.
    """
    pred = logits_or_pred
    if not isinstance(pred, Tensor):
        pred = torch.as_tensor(np.asarray(pred))
    y_t = y if isinstance(y, Tensor) else torch.as_tensor(np.asarray(y))
    if pred.dim() == y_t.dim() + 1:
        pred = pred.argmax(dim=-1)
    elif pred.shape != y_t.shape:
        raise ConfigError(
            f"logits_or_pred: expected scores {(*y_t.shape, 'C')} or labels {tuple(y_t.shape)} "
            f"for y of shape {tuple(y_t.shape)}, got {tuple(pred.shape)}"
        )
    y_true, y_pred = _pair(y_t, pred)
    return (y_true == y_pred).double().mean().item()


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> Tensor:
    """Counts (C, C) int64: entry [i, j] is the number of samples of class i predicted as j.

    Rows are true classes, columns predicted classes (scikit-learn's layout).
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes: expected a positive integer, got {num_classes!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        low, high = labels.min().item(), labels.max().item()
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise ConfigError(
                f"{name}: class index {bad} is outside [0, {num_classes}); "
                "check num_classes or the label encoding"
            )
    flat = y_true * num_classes + y_pred
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def classification_report(y_true: Any, y_pred: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision / recall / F1 / support, macro and weighted averages.

    Args:
        y_true: true class indices.
        y_pred: predicted class indices.
        class_names: one name per class; class i is ``class_names[i]``.

    Returns:
        ``{"accuracy": float, "support": int, "classes": {name: row}, "macro": row,
        "weighted": row}`` where a row is ``{"precision", "recall", "f1", "support"}``. The macro
        average is the unweighted mean over all classes, the weighted one weighs each class by
        its support; their support is the number of samples. Zero divisions give 0.0 (see the
        module docstring).
    """
    names = [str(n) for n in class_names]
    if not names:
        raise ConfigError("class_names: expected at least one class name")
    if len(set(names)) != len(names):
        raise ConfigError(f"class_names: names must be unique, got {names}")
    cm = confusion_matrix(y_true, y_pred, len(names)).double().cpu()
    tp = cm.diagonal()
    predicted, support = cm.sum(dim=0), cm.sum(dim=1)  # (C,), (C,)
    fp, fn = predicted - tp, support - tp
    rates = {
        "precision": _divide(tp, predicted),
        "recall": _divide(tp, support),
        "f1": _divide(2 * tp, 2 * tp + fp + fn),
    }
    total = int(support.sum().item())
    weights = support / total
    classes = {
        name: {**{k: rates[k][i].item() for k in RATES}, "support": int(support[i].item())}
        for i, name in enumerate(names)
    }
    return {
        "accuracy": (tp.sum() / total).item(),
        "support": total,
        "classes": classes,
        "macro": {**{k: rates[k].mean().item() for k in RATES}, "support": total},
        "weighted": {**{k: (rates[k] * weights).sum().item() for k in RATES}, "support": total},
    }


def _divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    """numerator / denominator, 0.0 where the denominator is 0."""
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), 0.0)


KAGGLE_EPS = 1e-15  # how Kaggle clips probabilities before it takes their logarithm


def log_loss(probs: Any, y_true: Any, eps: float = KAGGLE_EPS) -> float:
    r"""The log loss as Kaggle scores it: probabilities clipped to [eps, 1 - eps] and each row
    renormalised, then

    .. math:: \text{log loss} = -\frac{1}{N} \sum_n \log p_{n, y_n}

    For two classes it is the binary cross-entropy of the clipped P(class 1), p:
    :math:`-\frac{1}{N} \sum_n [y_n \log p_n + (1 - y_n) \log(1 - p_n)]`, as Kaggle's two-class
    competitions and scikit-learn compute it.

    Args:
        probs: (N, C) class probabilities (rows summing to 1).
        y_true: (N,) true class indices.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    if len(y) == 0:
        return float("nan")
    if probs.shape[1] == 2:
        p = np.clip(probs[:, 1], eps, 1 - eps)
        return float(-np.mean(np.where(y == 1, np.log(p), np.log(1 - p))))
    p = np.clip(probs, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))
