"""Unit tests of helpers.evaluation: accuracy, confusion matrix, confused pairs, mistakes, parity."""

import numpy as np
import pytest

from helpers import evaluation

Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 0])


def test_accuracy_and_misclassified():
    assert evaluation.accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 7)
    assert evaluation.misclassified(Y_TRUE, Y_PRED).tolist() == [1, 5, 6]


def test_confusion_matrix_rows_true_columns_predicted():
    matrix = evaluation.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 1]]
    assert matrix.sum() == 7 and np.trace(matrix) == 4
    assert evaluation.confusion_matrix(np.array([1]), np.array([1]), 4).shape == (4, 4)


def test_most_confused_orders_pairs_and_drops_zeros():
    matrix = evaluation.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert evaluation.most_confused(matrix, ["a", "b", "c"]) == [("c", "a", 2), ("a", "b", 1)]
    assert evaluation.most_confused(matrix, ["a", "b", "c"], top=1) == [("c", "a", 2)]
    assert evaluation.most_confused(np.eye(3, dtype=int), "abc") == []


@pytest.mark.parametrize("y_true, y_pred, error, message", [
    (np.eye(3, dtype=int), np.arange(3), ValueError, "1-D class indices"),
    (np.array([0.0, 1.0]), np.array([0, 1]), TypeError, "integer class indices"),
    (np.array([0, -1]), np.array([0, 1]), ValueError, "negative class index"),
    (np.array([0, 1]), np.array([0]), ValueError, "2 labels but y_pred has 1"),
    (np.array([], dtype=int), np.array([], dtype=int), ValueError, "empty"),
])
def test_bad_labels(y_true, y_pred, error, message):
    with pytest.raises(error, match=message):
        evaluation.accuracy(y_true, y_pred)


def test_confusion_and_confused_bad_input():
    with pytest.raises(ValueError, match=">= n_classes=2"):
        evaluation.confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="must be square"):
        evaluation.most_confused(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="2 classes but 3 class names"):
        evaluation.most_confused(np.zeros((2, 2)), ["a", "b", "c"])


def test_parity_from_integer_labels_not_one_hot():
    assert evaluation.parity(np.arange(10)).tolist() == [0, 1] * 5
    one_hot = np.eye(10, dtype=np.int64)[[7, 2]]
    with pytest.raises(ValueError, match="1-D class indices"):
        evaluation.parity(one_hot)
