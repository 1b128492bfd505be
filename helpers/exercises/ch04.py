"""Chapter 04's exercises: a third label, the weighted total loss, a head with loss weight 0, a paired verdict."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_choice, as_number, exercise, same_arrays

VERDICTS = ("parity head", "parity of the predicted digit", "cannot tell")


@exercise(
    "04.1",
    why="Every head needs labels of its own, and labels derived from the digit (parity, 'greater than 4') come from the "
        "integer labels, before any one-hot encoding.",
    hint="Compare the integer labels with 4; NumPy gives True/False per digit, and .astype(int) turns that into 1/0.",
    scaffold="big_train = ...  # for each training digit: 1 if it is greater than 4, else 0",
    solution="big_train = (y_train > 4).astype(int)\n"
             "print(big_train[:10], y_train[:10])",
    context={"labels": "y_train"},
)
def greater_than_four(big_train, *, labels):
    """Labels 'greater than 4' for the training digits, from the integer labels."""
    labels = np.asarray(labels)
    answer = as_array(big_train, "big_train")
    if answer.ndim == 2 and answer.shape == (len(labels), 1):
        answer = answer[:, 0]
    if answer.ndim == 2 and answer.shape[1] == 10:
        raise NotYet(f"shape {answer.shape}: these are one-hot rows; compare the integer labels, y_train, with 4")
    if answer.shape != labels.shape:
        raise NotYet(f"`big_train` should hold one label per training digit, shape {labels.shape}, got {answer.shape}")
    if not np.isin(answer, (0, 1)).all():
        raise NotYet("the labels should be 0 or 1 (or False/True); these hold other values: the digits themselves?")
    answer = answer.astype(int)
    if np.array_equal(answer, (labels > 4).astype(int)):
        return
    if np.array_equal(answer, (labels >= 4).astype(int)):
        raise NotYet("this counts 4 as greater than 4: use > rather than >=")
    if np.array_equal(answer, labels % 2):
        raise NotYet("this is the parity (odd or even), not 'greater than 4'")
    if np.array_equal(answer, (labels <= 4).astype(int)):
        raise NotYet("1 and 0 are swapped: 1 should mean greater than 4")
    first = int(np.nonzero(answer != (labels > 4))[0][0])
    raise NotYet(f"digit {first} of the training set is a {int(labels[first])}, labelled {int(answer[first])}")


@exercise(
    "04.2",
    why="Keras minimises one number, the loss-weighted sum of the head losses, so loss_weights decide how much each "
        "task pulls on the shared layers.",
    hint="Take each head's loss from section 4's `scores` (the keys end in _loss) and its weight from `loss_weights`.",
    scaffold="total = ...  # the total test loss, from the two head losses in `scores` and `loss_weights`",
    solution='total = loss_weights["digit"] * scores["digit_loss"] + loss_weights["odd"] * scores["odd_loss"]\n'
             'print(f"{total:.4f} by hand, {scores[\'loss\']:.4f} from evaluate")',
    context={"scores": "scores", "weights": "loss_weights"},
)
def weighted_total(total, *, scores, weights):
    """The weighted sum of the head losses."""
    value = as_number(total, "total")
    digit, odd = float(scores["digit_loss"]), float(scores["odd_loss"])
    expected = weights["digit"] * digit + weights["odd"] * odd
    if np.isclose(value, expected, rtol=1e-5):
        return
    if np.isclose(value, digit + odd, rtol=1e-5):
        raise NotYet("this is the plain sum; each head's loss counts with its weight from `loss_weights`")
    if np.isclose(value, (digit + odd) / 2, rtol=1e-5):
        raise NotYet("this is the mean of the two losses; Keras adds them, each times its weight")
    if np.isclose(value, weights["odd"] * digit + weights["digit"] * odd, rtol=1e-5):
        raise NotYet("the weights are swapped: the digit loss goes with loss_weights['digit']")
    raise NotYet(f"{value:.4f} is not the weighted sum of {digit:.4f} (digit) and {odd:.4f} (odd)")


def _weights(value: object, name: str) -> list[np.ndarray]:
    """A layer's weights as a list of arrays: get_weights() copies, not the layer's live variables."""
    if not isinstance(value, (list, tuple)) or not value:
        raise NotYet(f"`{name}` should be a layer's weights, a list of arrays from get_weights(), got "
                     f"{type(value).__name__}")
    if any(not isinstance(item, np.ndarray) for item in value):
        raise NotYet(f"`{name}` holds the layer's variables, which change as it trains; take a copy of their values "
                     "with get_weights()")
    return list(value)


@exercise(
    "04.3",
    why="A loss weight of 0 takes a head's loss out of the sum, so its weights get zero gradients and stay as they "
        "started, and Keras fixes the loss weights when it first builds the loss, at the first fit after a compile.",
    hint="Build a fresh two-headed model, compile it with loss_weights={'digit': 1.0, 'odd': 0.0}, copy both heads' "
         "weights with get_layer(...).get_weights(), fit one epoch on 1,000 digits, and copy them again.",
    scaffold="odd_before, digit_before = ..., ...  # copies of the odd and digit heads' weights before fit\n"
             "odd_after, digit_after = ..., ...    # and after one epoch with loss_weights {'digit': 1.0, 'odd': 0.0}",
    solution='keras.utils.set_random_seed(helpers.seed())\n'
             'frozen_odd = build_two_headed()\n'
             'frozen_odd.compile(optimizer="adam", loss={"digit": "sparse_categorical_crossentropy",\n'
             '                                         "odd": "binary_crossentropy"},\n'
             '                   loss_weights={"digit": 1.0, "odd": 0.0})\n'
             'odd_before, digit_before = (frozen_odd.get_layer(name).get_weights() for name in ("odd", "digit"))\n'
             'frozen_odd.fit(X_train[:1000], {"digit": y_train[:1000], "odd": odd_train[:1000]}, batch_size=64,\n'
             '               epochs=1, verbose=0)\n'
             'odd_after, digit_after = (frozen_odd.get_layer(name).get_weights() for name in ("odd", "digit"))',
)
def head_with_weight_zero(odd_before, digit_before, odd_after, digit_after):
    """Heads' weights before and after training with the odd head's loss weight at 0."""
    weights = {name: _weights(value, name) for name, value in
               (("odd_before", odd_before), ("digit_before", digit_before), ("odd_after", odd_after),
                ("digit_after", digit_after))}
    if [w.shape for w in weights["odd_before"]] != [(128, 1), (1,)]:
        raise NotYet(f"`odd_before` should be the odd head's kernel (128, 1) and bias (1,), got shapes "
                     f"{[w.shape for w in weights['odd_before']]}")
    if [w.shape for w in weights["digit_before"]] != [(128, 10), (10,)]:
        raise NotYet(f"`digit_before` should be the digit head's kernel (128, 10) and bias (10,), got shapes "
                     f"{[w.shape for w in weights['digit_before']]}")
    if same_arrays(weights["digit_before"], weights["digit_after"]):
        raise NotYet("the digit head did not change either: did fit run between the two copies?")
    if odd_before is odd_after:
        raise NotYet("`odd_before` and `odd_after` are the same copy; copy the odd head's weights again after fit")
    if not same_arrays(weights["odd_before"], weights["odd_after"]):
        raise NotYet("the odd head's weights changed, so its loss still counted: compile a fresh model with "
                     "loss_weights={'digit': 1.0, 'odd': 0.0} before fit (a model that has already trained keeps the "
                     "loss weights of its first fit until you compile again), or the two copies came from different "
                     "models")


@exercise(
    "04.4",
    why="Two models scored on the same test digits differ by chance too; only a paired gain beyond about two standard "
        "errors says which is better.",
    hint="Section 5 printed `parity_gain` (parity of the predicted digit minus the parity head) and its standard error "
         "`parity_gain_error`: is the gain more than two of them away from zero, and on which side?",
    scaffold='better = ...  # "parity head", "parity of the predicted digit" or "cannot tell"',
    solution='better = ("cannot tell" if abs(parity_gain) <= 2 * parity_gain_error\n'
             '          else "parity of the predicted digit" if parity_gain > 0 else "parity head")\n'
             'print(f"gain {parity_gain:+.4f} +- {parity_gain_error:.4f}: {better}")',
    context={"gain": "parity_gain", "error": "parity_gain_error"},
)
def better_parity(better, *, gain, error):
    """Which parity answer is better on these test digits, or that they cannot tell."""
    choice = as_choice(better, "better", VERDICTS)
    gain, error = float(gain), float(error)
    expected = ("cannot tell" if abs(gain) <= 2 * error else
                "parity of the predicted digit" if gain > 0 else "parity head")
    if choice == expected:
        return
    if expected == "cannot tell":
        raise NotYet(f"the gain, {gain:+.4f}, lies within two standard errors ({2 * error:.4f}) of zero: the higher "
                     "accuracy could be chance on these test digits")
    if choice == "cannot tell":
        raise NotYet(f"the gain, {gain:+.4f}, is more than two standard errors ({2 * error:.4f}) from zero: one of "
                     "them is better")
    raise NotYet(f"the sign: parity_gain is the parity of the predicted digit minus the parity head, here {gain:+.4f}")
