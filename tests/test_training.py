"""Unit tests of helpers.training."""

import numpy as np
import pytest

from helpers.training import EpochLine


def test_epoch_line_prints_one_rounded_line_per_epoch(capsys):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=4, verbose=0, validation_data=(x, y), callbacks=[EpochLine(every=2, digits=2)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch   2", "epoch   4"]
    assert "loss=" in lines[0] and "val_loss=" in lines[0] and lines[0].endswith(" s)")


def test_epoch_line_rejects_zero():
    with pytest.raises(ValueError, match="every must be >= 1"):
        EpochLine(every=0)
