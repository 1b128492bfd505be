"""Unit tests of helpers.evaluation: confused pairs by name (ties kept on request), the mistakes, digit parity, paired gains."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from helpers import evaluation

Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 0])
NAMES = ["a", "b", "c"]


def test_misclassified_gives_the_indices_of_wrong_predictions():
    assert evaluation.misclassified(Y_TRUE, Y_PRED).tolist() == [1, 5, 6]
    assert evaluation.misclassified(Y_TRUE, Y_TRUE).tolist() == []


def test_most_confused_orders_sklearn_cells_largest_first_and_drops_zeros():
    matrix = confusion_matrix(Y_TRUE, Y_PRED)
    assert evaluation.most_confused(matrix, NAMES) == [("c", "a", 2), ("a", "b", 1)]
    assert evaluation.most_confused(matrix, NAMES, top=1) == [("c", "a", 2)]
    assert evaluation.most_confused(matrix, NAMES, top=np.int64(2)) == [("c", "a", 2), ("a", "b", 1)]
    assert evaluation.most_confused(np.eye(3, dtype=int), "abc") == []


def test_most_confused_breaks_ties_in_row_order():
    matrix = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert evaluation.most_confused(matrix, NAMES) == [("a", "b", 1), ("a", "c", 1), ("b", "a", 1)]


def test_most_confused_can_keep_the_pairs_tied_with_the_last_one_kept():
    matrix = np.array([[0, 3, 2], [2, 0, 1], [2, 0, 0]])
    assert evaluation.most_confused(matrix, NAMES, top=2) == [("a", "b", 3), ("a", "c", 2)]
    assert evaluation.most_confused(matrix, NAMES, top=2, keep_ties=True) == [
        ("a", "b", 3), ("a", "c", 2), ("b", "a", 2), ("c", "a", 2)]
    assert evaluation.most_confused(matrix, NAMES, top=1, keep_ties=True) == [("a", "b", 3)]  # no tie at the cut
    assert evaluation.most_confused(matrix, NAMES, top=5, keep_ties=np.bool_(True)) == \
        evaluation.most_confused(matrix, NAMES, top=5)  # the cut falls on a 1: one pair with 1, no zeros
    assert evaluation.most_confused(np.eye(3, dtype=int), NAMES, top=2, keep_ties=True) == []  # zeros never count


@pytest.mark.parametrize("keep_ties", [1, "yes", None])
def test_most_confused_refuses_a_keep_ties_that_is_not_a_bool(keep_ties):
    with pytest.raises(TypeError, match="keep_ties must be True or False, got"):
        evaluation.most_confused(np.zeros((2, 2), dtype=int), ["a", "b"], keep_ties=keep_ties)


@pytest.mark.parametrize("top", [0, -1, 1.5, True, "2", None])
def test_most_confused_refuses_a_top_that_is_not_a_positive_int(top):
    with pytest.raises(ValueError, match="top must be an int >= 1, got"):
        evaluation.most_confused(np.zeros((2, 2), dtype=int), ["a", "b"], top=top)


def test_most_confused_refuses_a_matrix_that_does_not_fit_the_names():
    with pytest.raises(ValueError, match="must be square, got shape \\(2, 3\\)"):
        evaluation.most_confused(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="must be square"):
        evaluation.most_confused(np.zeros(4), ["a", "b"])
    with pytest.raises(ValueError, match="2 classes but 3 class names"):
        evaluation.most_confused(np.zeros((2, 2)), ["a", "b", "c"])


@pytest.mark.parametrize("y_true, y_pred, error, message", [
    (np.eye(3, dtype=int), np.arange(3), ValueError, "1-D class indices \\(use argmax"),
    (np.array([0.0, 1.0]), np.array([0, 1]), TypeError, "y_true must hold integer class indices"),
    (np.array([0, 1]), np.array([0.2, 0.8]), TypeError, "y_pred must hold integer class indices"),
    (np.array([0, -1]), np.array([0, 1]), ValueError, "negative class index -1"),
    (np.array([0, 1]), np.array([0]), ValueError, "2 labels but y_pred has 1"),
    (np.array([], dtype=int), np.array([], dtype=int), ValueError, "empty"),
])
def test_misclassified_refuses_bad_labels(y_true, y_pred, error, message):
    with pytest.raises(error, match=message):
        evaluation.misclassified(y_true, y_pred)


def test_parity_from_integer_labels_not_one_hot():
    assert evaluation.parity(np.arange(10)).tolist() == [0, 1] * 5
    assert evaluation.parity(np.array([7], dtype=np.uint8)).dtype == np.int64
    one_hot = np.eye(10, dtype=np.int64)[[7, 2]]
    with pytest.raises(ValueError, match="1-D class indices"):
        evaluation.parity(one_hot)


def test_paired_accuracy_gain_counts_disagreements_only():
    y_true = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    pred_a = np.array([0, 1, 2, 3, 0, 1, 2, 0])   # 7 right
    pred_b = np.array([0, 1, 2, 0, 0, 1, 0, 0])   # 5 right; b is never right where a is wrong
    gain, error = evaluation.paired_accuracy_gain(y_true, pred_a, pred_b)
    differences = np.array([0, 0, 0, 1, 0, 0, 1, 0])
    assert gain == pytest.approx(2 / 8)
    assert error == pytest.approx(differences.std(ddof=1) / np.sqrt(8))
    assert evaluation.paired_accuracy_gain(y_true, pred_b, pred_a)[0] == pytest.approx(-2 / 8)


def test_paired_accuracy_gain_of_identical_predictions_is_zero_with_zero_error():
    y = np.array([1, 2, 3, 4])
    assert evaluation.paired_accuracy_gain(y, y, y) == (0.0, 0.0)


@pytest.mark.parametrize("pred_b, error, message", [
    (np.array([0, 1]), ValueError, "has 3 labels but y_pred has 2"),
    (np.array([0.0, 1.0, 2.0]), TypeError, "integer class indices"),
    (np.eye(3, dtype=int), ValueError, "1-D class indices"),
])
def test_paired_accuracy_gain_refuses_mismatched_predictions(pred_b, error, message):
    with pytest.raises(error, match=message):
        evaluation.paired_accuracy_gain(np.array([0, 1, 2]), np.array([0, 1, 2]), pred_b)


def test_paired_accuracy_gain_refuses_fewer_than_two_examples():
    with pytest.raises(ValueError, match="at least 2 examples"):
        evaluation.paired_accuracy_gain(np.array([1]), np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match="empty"):
        evaluation.paired_accuracy_gain(np.array([], int), np.array([], int), np.array([], int))
