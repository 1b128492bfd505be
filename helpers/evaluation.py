"""Judging a classifier beyond what scikit-learn gives: the confused pairs by name, the mistakes, paired accuracy gains, digit parity.

Accuracy and the confusion matrix come from `sklearn.metrics` (`accuracy_score`, `confusion_matrix`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    """`y` as a 1-D int64 array of class indices, refusing one-hot or float labels."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices (use argmax on one-hot or probabilities), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} holds a negative class index {y.min()}")
    return y.astype(np.int64)


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays, checked, of the same non-zero length."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty")
    return y_true, y_pred


def most_confused(matrix: np.ndarray, class_names: Sequence[str], top: int = 5,
                  keep_ties: bool = False) -> list[tuple[str, str, int]]:
    """The `top` largest off-diagonal cells as (true name, predicted name, count), largest first (keep_ties: and those tied with the last)."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be an int >= 1, got {top!r}")
    if not isinstance(keep_ties, (bool, np.bool_)):
        raise TypeError(f"keep_ties must be True or False, got {keep_ties!r}")
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    if len(class_names) != matrix.shape[0]:
        raise ValueError(f"{matrix.shape[0]} classes but {len(class_names)} class names")
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")
    counts = off.flat[order]  # largest first; equal counts in row order
    kept = min(int(top), len(order))
    if keep_ties and kept:
        kept = int(np.count_nonzero(counts >= counts[kept - 1]))
    pairs = [np.unravel_index(i, off.shape) for i in order[:kept]]
    return [(class_names[t], class_names[p], int(off[t, p])) for t, p in pairs if off[t, p] > 0]


def misclassified(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Indices of the examples whose prediction is wrong."""
    y_true, y_pred = _pair(y_true, y_pred)
    return np.flatnonzero(y_true != y_pred)


def parity(digits: np.ndarray) -> np.ndarray:
    """1 for odd digits, 0 for even ones, from integer labels (one-hot rows would be wrong: refused)."""
    return (_labels(digits, "digits") % 2).astype(np.int64)


def paired_accuracy_gain(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> tuple[float, float]:
    """(accuracy of a minus accuracy of b, its standard error) for two models judged on the same examples.

    Each example scores +1, -1 or 0 (where both are right or both wrong, it adds zero); when the two models' errors
    go together, the error of their mean is smaller than for two accuracies on independent test sets."""
    y_true, pred_a = _pair(y_true, pred_a)
    _, pred_b = _pair(y_true, pred_b)
    difference = (pred_a == y_true).astype(np.float64) - (pred_b == y_true)
    if len(difference) < 2:
        raise ValueError("a standard error needs at least 2 examples")
    return float(difference.mean()), float(difference.std(ddof=1) / np.sqrt(len(difference)))
