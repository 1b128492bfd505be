"""The machine-speed figure: seconds for one small, fixed training run, the same work on every machine.

Benchmark times divided by this figure compare across machines (they differ here by up to 2x).
Usage: python -m tools.machine_speed   (prints the seconds)
"""

from __future__ import annotations

import os
import sys
import time

SAMPLES, EPOCHS, BATCH = 4096, 3, 64


def measure() -> float:
    """Train a fixed small CNN on fixed random 28x28 images for 3 epochs; return the best of two timings in seconds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    timings = []
    for _ in range(2):  # the first run also pays for tracing; the best of two is steadier
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        start = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
        timings.append(time.perf_counter() - start)
    return min(timings)


if __name__ == "__main__":
    print(f"{measure():.2f}")
    sys.exit(0)
