"""Unit tests of helpers.training: the one-line-per-epoch callback and timing passes over a dataset."""

import time

import numpy as np
import pytest

from helpers.training import EpochLine, time_epochs


class SlowDataset:
    """An iterable of `n` batches that sleeps `seconds` before each one, like a slow input pipeline."""

    def __init__(self, n: int, seconds: float) -> None:
        self.n, self.seconds = n, seconds

    def __iter__(self):
        for index in range(self.n):
            time.sleep(self.seconds)
            yield index


def test_epoch_line_prints_one_rounded_line_per_chosen_epoch(capsys):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    epoch_line = EpochLine(every=2, digits=2)
    model.fit(x, y, epochs=4, verbose=0, validation_data=(x, y), callbacks=[epoch_line])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(epoch_line.seconds) == 4 and all(0 < s < 60 for s in epoch_line.seconds)  # kept for every epoch
    assert [line.split(":")[0] for line in lines] == ["epoch   2", "epoch   4"]
    assert " loss=" in lines[0] and " val_loss=" in lines[0] and lines[0].endswith(" s)")
    value = lines[0].split(" loss=")[1].split()[0]
    assert len(value.split(".")[1]) == 2  # two digits, as asked
    assert "learning_rate" not in lines[0]


def test_epoch_line_without_logs_prints_only_the_epoch_and_time(capsys):
    line = EpochLine()
    line.on_epoch_begin(0)
    line.on_epoch_end(0)
    assert capsys.readouterr().out == "epoch   1:  (0.0 s)\n"


@pytest.mark.parametrize("every, digits, message", [
    (0, 3, "every must be an int >= 1, got 0"), (True, 3, "every must be an int >= 1, got True"),
    (1.5, 3, "every must be"), (1, -1, "digits must be an int >= 0, got -1"), (1, 2.0, "digits must be"),
    (1, False, "digits must be"),
])
def test_epoch_line_rejects_bad_arguments(every, digits, message):
    with pytest.raises(ValueError, match=message):
        EpochLine(every=every, digits=digits)


def test_time_epochs_gives_one_positive_time_per_pass():
    seconds = time_epochs([1, 2, 3], epochs=4)
    assert len(seconds) == 4 and all(s > 0 for s in seconds)


def test_time_epochs_measures_more_time_for_a_slower_dataset():
    fast = time_epochs(SlowDataset(3, 0.0), epochs=2)
    slow = time_epochs(SlowDataset(3, 0.02), epochs=2)
    assert all(s >= 3 * 0.02 for s in slow)
    assert max(fast) < min(slow)


def test_time_epochs_passes_over_the_whole_dataset_each_epoch():
    seen = []

    class Recording:
        def __iter__(self):
            for batch in "abc":
                seen.append(batch)
                yield batch

    time_epochs(Recording(), epochs=2)
    assert seen == list("abcabc")


@pytest.mark.parametrize("epochs", [0, -1, True, 2.0, "3"])
def test_time_epochs_rejects_bad_epoch_counts(epochs):
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        time_epochs([1], epochs=epochs)


def test_time_epochs_refuses_an_empty_dataset():
    with pytest.raises(ValueError, match="dataset is empty: nothing to time"):
        time_epochs([], epochs=1)
