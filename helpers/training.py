"""Training conveniences shared by the chapters: a compact line per epoch, and timing passes over a dataset."""

from __future__ import annotations

import time
from collections.abc import Iterable

import keras


class EpochLine(keras.callbacks.Callback):
    """Print one short line per epoch (rounded metrics, seconds) instead of Keras' progress bar; keep the seconds.

    `seconds` lists every epoch's wall-clock time, printed or not.
    """

    def __init__(self, every: int = 1, digits: int = 3) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
            raise ValueError(f"digits must be an int >= 0, got {digits!r}")
        self.every = every
        self.digits = digits
        self._start = 0.0
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        if (epoch + 1) % self.every:
            return
        shown = " ".join(f"{k}={v:.{self.digits}f}" for k, v in sorted((logs or {}).items())
                         if isinstance(v, (int, float)) and k != "learning_rate")
        print(f"epoch {epoch + 1:>3}: {shown} ({self.seconds[-1]:.1f} s)", flush=True)


def time_epochs(dataset: Iterable, epochs: int = 3) -> list[float]:
    """Seconds for each full pass over `dataset` (reading only, no training)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        batches = sum(1 for _ in dataset)
        seconds.append(time.perf_counter() - start)
        if batches == 0:
            raise ValueError("dataset is empty: nothing to time")
    return seconds
