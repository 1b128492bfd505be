"""Training conveniences shared by the chapters: a compact progress line per epoch."""

from __future__ import annotations

import time

import keras


class EpochLine(keras.callbacks.Callback):
    """Print one short line per epoch (rounded metrics, seconds) instead of Keras' progress bar."""

    def __init__(self, every: int = 1, digits: int = 3) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.digits = digits
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        shown = " ".join(f"{k}={v:.{self.digits}f}" for k, v in sorted((logs or {}).items())
                         if isinstance(v, (int, float)) and k != "learning_rate")
        print(f"epoch {epoch + 1:>3}: {shown} ({time.perf_counter() - self._start:.1f} s)", flush=True)
