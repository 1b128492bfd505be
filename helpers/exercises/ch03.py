"""Chapter 03's exercises: parameters by hand, one-hot labels, output shapes, the confusion matrix, one prediction."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_number, exercise

CLASSES = 10
# chapter 03's network without its second block: 28 -> conv 3x3 (valid) 26 -> pool 13, 32 channels
ONE_BLOCK_INPUTS = 13 * 13 * 32
DENSE_UNITS = 128


def _dense(inputs: int, units: int = DENSE_UNITS) -> int:
    """A Dense layer's parameters: a weight per input and unit, and a bias per unit."""
    return (inputs + 1) * units


@exercise(
    "03.1",
    why="Flatten hands every pixel of every channel to the first Dense layer, so that layer holds most of a small "
        "CNN's parameters, and every pixel a pooling removes takes its weights with it.",
    hint="Follow one digit through conv_1 (a 3x3 'valid' convolution: 28 - 3 + 1) and pool_1 (halves, rounding down), "
         "multiply height x width x channels for Flatten, then use the Dense rule of the parameter-count cell.",
    scaffold="dense_params = ...  # dense_128's parameters once conv_2 and pool_2 are removed; by hand first",
    solution="dense_params = (13 * 13 * 32 + 1) * 128   # 28 -> conv_1 26 -> pool_1 13; 32 channels; +1 bias\n"
             "one_block = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3, activation=\"relu\"),\n"
             "                              keras.layers.MaxPooling2D(2), keras.layers.Flatten(),\n"
             "                              keras.layers.Dense(128, activation=\"relu\", name=\"dense_128\")])\n"
             "print(one_block.get_layer(\"dense_128\").count_params())",
)
def dense_without_second_block(dense_params):
    """dense_128's parameters in chapter 03's network without conv_2 and pool_2."""
    value = as_number(dense_params, "dense_params")
    if value == _dense(ONE_BLOCK_INPUTS):
        return
    known = {
        ONE_BLOCK_INPUTS * DENSE_UNITS: "this leaves out the biases: each of the 128 units has one more parameter",
        _dense(5 * 5 * 64): "this is dense_128 of the chapter's network, with the second block still in place",
        _dense(26 * 26 * 32): "26 x 26 x 32 is conv_1's output before pooling; pool_1 halves 26 to 13",
        _dense(28 * 28 * 32): "a 3 x 3 convolution without padding shrinks 28 to 26 (28 - 3 + 1), then pool_1 halves it",
        _dense(14 * 14 * 32): "14 x 14 would follow padding='same'; the chapter's conv_1 uses no padding: 26, then 13",
        _dense(13 * 13 * 64): "conv_1 has 32 filters, so 32 channels reach Flatten; 64 belonged to conv_2",
        _dense(13 * 13 * 32, 64): "the layer right after Flatten is dense_128, with 128 units",
    }
    for wrong, reason in known.items():
        if value == wrong:
            raise NotYet(f"{value:,.0f}: {reason}")
    raise NotYet(f"{value:,.0f} is not it: Flatten gives height x width x channels inputs after pool_1, and a Dense "
                 "layer has (inputs + 1) x units parameters")


@exercise(
    "03.2",
    why="A loss reads labels in one format only: sparse_categorical_crossentropy takes class numbers, "
        "categorical_crossentropy one-hot rows, and the same network learns the same from either.",
    hint="keras.utils.to_categorical turns class numbers into one-hot rows; say how many classes there are, in case "
         "a small split misses one. Which of the chapter's two cross-entropies reads such rows?",
    scaffold="y_train_onehot = ...  # y_train as one-hot rows\n"
             "onehot_loss = ...  # the name of the Keras loss for one-hot labels",
    solution="y_train_onehot = keras.utils.to_categorical(y_train, num_classes=10)\n"
             "onehot_loss = \"categorical_crossentropy\"",
    context={"labels": "y_train"},
)
def one_hot_labels(y_train_onehot, onehot_loss, *, labels):
    """y_train as one-hot rows, and the loss that reads them."""
    labels = np.asarray(labels)
    onehot = as_array(y_train_onehot, "y_train_onehot")
    n = len(labels)
    if onehot.ndim == 1:
        raise NotYet(f"`y_train_onehot` is 1-D, shape {onehot.shape}: these are class numbers; one-hot labels have a "
                     f"row per digit and a column per class, shape ({n}, {CLASSES})")
    if onehot.shape == (CLASSES, n) and n != CLASSES:
        raise NotYet(f"shape {onehot.shape}: rows and columns are swapped; one row per digit: ({n}, {CLASSES})")
    if onehot.ndim != 2 or onehot.shape[0] != n:
        raise NotYet(f"`y_train_onehot` has shape {onehot.shape}, but y_train has {n} labels: built from another "
                     f"split? It should be ({n}, {CLASSES})")
    if onehot.shape[1] != CLASSES:
        raise NotYet(f"{onehot.shape[1]} columns: one per class is {CLASSES}; pass num_classes=10")
    if not np.isin(onehot, (0, 1)).all() or not (onehot.sum(axis=1) == 1).all():
        raise NotYet("each row should hold a single 1 and nine 0s; these rows hold other values (probabilities?)")
    wrong = np.nonzero(onehot.argmax(axis=1) != labels)[0]
    if len(wrong):
        i = int(wrong[0])
        raise NotYet(f"row {i} has its 1 in column {int(onehot[i].argmax())}, but y_train[{i}] is {int(labels[i])}: "
                     "the rows must follow y_train's order")
    loss = onehot_loss
    name = loss if isinstance(loss, str) else getattr(loss, "name", getattr(loss, "__name__", type(loss).__name__))
    name = str(name).strip().lower()
    if name in ("categorical_crossentropy", "categoricalcrossentropy"):
        return
    if "sparse" in name:
        raise NotYet(f"{loss!r} reads class numbers (y_train itself); one-hot rows need categorical_crossentropy")
    if "binary" in name:
        raise NotYet(f"{loss!r} scores each column as its own yes/no question; one class out of ten needs "
                     "categorical_crossentropy")
    raise NotYet(f"`onehot_loss` should name the cross-entropy for one-hot labels, got {loss!r}")


def _shape(value: object, name: str) -> tuple[float, ...]:
    """A layer output shape as a tuple of numbers, with a leading batch entry (None) dropped."""
    if not isinstance(value, (tuple, list, np.ndarray)):
        raise NotYet(f"`{name}` should be a tuple such as (13, 13, 32), got {type(value).__name__} {value!r}")
    entries = value.tolist() if isinstance(value, np.ndarray) else list(value)
    if len(entries) == 4 and entries[0] is None:
        entries = entries[1:]
    if len(entries) != 3:
        raise NotYet(f"`{name}` should be (height, width, channels), got {tuple(value)}")
    return tuple(as_number(entry, name) for entry in entries)


@exercise(
    "03.3",
    why="Each valid 3x3 convolution removes a 1-pixel border and each 2x2 pooling halves, rounding down, so the shapes "
        "a network hands on can be predicted before it is built.",
    hint="Start from pool_1's output, (13, 13, 32): a 3x3 convolution without padding gives 13 - 3 + 1 rows, with as "
         "many channels as it has filters; 2x2 pooling then halves the rows and drops a last odd one.",
    scaffold="conv_2_shape = ...  # (height, width, channels) of conv_2's output, predicted by hand\n"
             "pool_2_shape = ...  # and of pool_2's output",
    solution="conv_2_shape = (11, 11, 64)   # 13 - 3 + 1 = 11; conv_2 has 64 filters\n"
             "pool_2_shape = (5, 5, 64)     # 11 // 2 = 5: the last row and column are dropped",
)
def shapes_after_second_block(conv_2_shape, pool_2_shape):
    """Output shapes of conv_2 and pool_2 in chapter 03's network."""
    conv, pool = _shape(conv_2_shape, "conv_2_shape"), _shape(pool_2_shape, "pool_2_shape")
    if conv != (11, 11, 64):
        if conv[:2] == (13, 13):
            raise NotYet("(13, 13) is conv_2's input; a 3x3 convolution without padding removes a 1-pixel border: 11")
        if conv[:2] == (11, 11) and conv[2] != 64:
            raise NotYet(f"height and width are right; the channels are conv_2's filters, 64, not {conv[2]:g}")
        if conv[:2] == (24, 24):
            raise NotYet("(24, 24) follows from conv_1's 26 without pooling; pool_1 halves 26 to 13 first")
        raise NotYet(f"conv_2's output is not {conv_2_shape}: start from pool_1's (13, 13, 32)")
    if pool != (5, 5, 64):
        if pool[:2] in ((6, 6), (5.5, 5.5)):
            raise NotYet("MaxPooling2D without padding rounds down: 11 // 2 = 5, the last row and column are dropped")
        if pool[:2] == (11, 11):
            raise NotYet("pooling with a 2x2 window and stride 2 halves the height and width")
        if pool[2] != 64:
            raise NotYet("pooling keeps the channels: 64")
        raise NotYet(f"pool_2's output is not {pool_2_shape}: halve conv_2's height and width, rounding down")


@exercise(
    "03.4",
    why="Rows of a confusion matrix are the true classes and columns the predictions, so a row's off-diagonal sum is "
        "what a class loses (its missed digits) and a column's is what the model wrongly calls that class.",
    hint="In section 8's `matrix`, row i counts the test digits whose true class is i; the diagonal holds the right "
         "answers. NumPy: `matrix.sum(axis=1)` sums along each row, `np.diag(matrix)` takes the diagonal.",
    scaffold="missed_per_digit = ...  # for each true digit 0-9: how many of its test digits were misclassified",
    solution="missed_per_digit = matrix.sum(axis=1) - np.diag(matrix)\n"
             "print(dict(enumerate(missed_per_digit.tolist())))",
    context={"matrix": "matrix"},
)
def missed_per_true_digit(missed_per_digit, *, matrix):
    """Misclassified test digits per true class, from the confusion matrix."""
    matrix = np.asarray(matrix)
    answer = as_array(missed_per_digit, "missed_per_digit")
    rows, columns, diagonal = matrix.sum(axis=1), matrix.sum(axis=0), np.diag(matrix)
    if answer.shape != (len(matrix),):
        raise NotYet(f"`missed_per_digit` should hold one count per digit, shape ({len(matrix)},), got {answer.shape}")
    if np.array_equal(answer, rows - diagonal):
        return
    if np.array_equal(answer, columns - diagonal) and not np.array_equal(rows, columns):
        raise NotYet("these are column sums: how often each digit was wrongly predicted; the true digits are the rows "
                     "(axis=1)")
    if np.array_equal(answer, rows):
        raise NotYet("these are all test digits per class, the right answers on the diagonal included; subtract them")
    if np.array_equal(answer, diagonal):
        raise NotYet("these are the correctly classified digits (the diagonal); the missed ones are the rest of each row")
    raise NotYet(f"the counts do not match the matrix; digit 0, for one, has {int(rows[0] - diagonal[0])} misclassified "
                 f"test digits, your answer says {answer[0]:g}")


@exercise(
    "03.5",
    why="Keras models take batches: one image goes in as a batch of one, and the answer is one row of ten "
        "probabilities whose argmax is the digit.",
    hint="`X_test` is scaled and shaped like `X_train`, the images the model was trained on; slicing `X_test[:1]` keeps "
         "the batch axis where `X_test[0]` drops it. `np.argmax` turns ten probabilities into a digit.",
    scaffold="batch_of_one = ...  # the first test digit, as the model wants it\n"
             "predicted_digit = ...  # the digit the model predicts for it, one whole number",
    solution="batch_of_one = X_test[:1]\n"
             "predicted_digit = int(model.predict(batch_of_one, verbose=0).argmax())\n"
             "print(batch_of_one.shape, '->', predicted_digit)",
    context={"images": "X_test", "model": "model"},
)
def one_prediction(batch_of_one, predicted_digit, *, images, model):
    """The first test digit as a batch of one, and the model's digit for it."""
    batch = as_array(batch_of_one, "batch_of_one")
    first = np.asarray(images[:1])
    if batch.shape == first.shape[1:]:
        raise NotYet(f"shape {batch.shape} is one image without the batch axis; predict wants a batch: X_test[:1], "
                     f"shape {first.shape}")
    if batch.ndim == 3 and batch.shape[1:] == first.shape[1:3]:
        if batch.max() > 1.0:
            raise NotYet(f"shape {batch.shape} has no channel axis: this is x_test, the raw bytes; the model takes "
                         f"X_test (scaled to 0-1, shape {first.shape})")
        raise NotYet(f"shape {batch.shape} has no channel axis; X_test[:1] keeps it: {first.shape}")
    if batch.shape != first.shape:
        raise NotYet(f"`batch_of_one` should have shape {first.shape}, got {batch.shape}")
    if batch.max() > 1.0:
        raise NotYet("these are 0-255 bytes; the model was trained on images scaled to 0-1, as X_test is")
    if not np.allclose(batch, first):
        raise NotYet("this is not the first test digit, X_test[:1]")
    probabilities = np.asarray(model.predict(first, verbose=0))[0]
    if isinstance(predicted_digit, (list, tuple, np.ndarray)):
        if np.size(predicted_digit) > 1:
            raise NotYet("these are the ten probabilities; the digit is the position of the largest (argmax)")
        predicted_digit = np.asarray(predicted_digit).reshape(-1)[0] if np.size(predicted_digit) else predicted_digit
    digit = as_number(predicted_digit, "predicted_digit")
    if 0 < digit < 1 and np.isclose(digit, probabilities.max(), atol=1e-4):
        raise NotYet("this is the largest probability; the digit is where it sits: argmax, not max")
    if digit != int(probabilities.argmax()):
        raise NotYet(f"the model predicts {int(probabilities.argmax())} for this digit, not {digit:g} (is that the true "
                     "label, y_test[0]?)")
