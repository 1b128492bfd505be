"""One set-up call for every chapter: quiet TensorFlow, seed everything, style plots, print a status line."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import sys
import warnings
from collections.abc import Iterator

from .config import is_offline, mode_name

DEFAULT_SEED = 42
SEED_ENV = "COURSE_SEED"


def seed() -> int:
    """The run's seed: COURSE_SEED if set (the maintainers' seed sweep sets it), else 42."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return DEFAULT_SEED
    if not raw.isdigit():
        raise ValueError(f"{SEED_ENV}={raw!r} is not a non-negative whole number")
    return int(raw)


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while the block runs: C libraries write there, not to sys.stderr."""
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no file descriptor 2 (rare embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up noise and hide its Python-level warnings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        # TensorFlow prints 'cudart_stub', 'oneDNN' and absl lines to fd 2 while it loads, before it
        # reads TF_CPP_MIN_LOG_LEVEL; JupyterLab would show them as a red stderr block.
        with stderr_silenced():
            import tensorflow  # noqa: F401
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    warnings.filterwarnings("ignore", module="keras.src.*")


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras and make TF ops deterministic."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras
    import numpy as np
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def device_name() -> str:
    """'GPU' if TensorFlow sees one, else 'CPU (<machine>)'."""
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({platform.machine()})"


def status_line(seed: int, data_source: str = "") -> str:
    """The chapter's first printed line: mode, network, versions, device, seed and data source."""
    import keras
    import tensorflow as tf

    parts = [f"mode: {mode_name()}", f"offline: {'yes' if is_offline() else 'no'}",
             f"TensorFlow {tf.__version__}", f"Keras {keras.__version__}", f"device: {device_name()}",
             f"seed: {seed}"]
    if data_source:
        parts.append(f"data: {data_source}")
    return " | ".join(parts)


def setup(data_source: str = "") -> None:
    """Quiet logs, seed everything with the run's seed, style plots, and print the chapter's status line."""
    quiet_tensorflow()
    chosen = seed()
    seed_everything(chosen)
    from .plots import set_style

    set_style()
    print(status_line(chosen, data_source))
