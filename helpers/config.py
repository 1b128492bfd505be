"""Course configuration: fast/full mode, the offline switch, seeding and one set-up call."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

FAST_ENV = "COURSE_FAST"
OFFLINE_ENV = "COURSE_OFFLINE"
DATA_ENV = "COURSE_DATA_DIR"
DEFAULT_SEED = 42

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    """Read a yes/no environment variable, rejecting values that are neither."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not a yes/no value; use 1 or 0")


def is_fast() -> bool:
    """True when COURSE_FAST asks for the small, quick settings (tests and CI)."""
    return _env_flag(FAST_ENV)


def is_offline() -> bool:
    """True when COURSE_OFFLINE forbids every network access."""
    return _env_flag(OFFLINE_ENV)


def mode_name() -> str:
    """'fast' or 'full', for printing."""
    return "fast" if is_fast() else "full"


def pick(*, fast: T, full: T) -> T:
    """Return the fast-mode or full-mode value: the one place where the modes differ."""
    return fast if is_fast() else full


def project_root() -> Path:
    """The repository root (the folder that holds helpers/)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data cache folder (COURSE_DATA_DIR or data/ in the repository), created if missing."""
    path = Path(os.environ.get(DATA_ENV) or project_root() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give every new socket a timeout while the block runs, so a stalled download fails fast."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(float(seconds))
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def quiet_tensorflow() -> None:
    """Hide TensorFlow's C++ and absl log noise; set before tensorflow is imported for full effect."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with tensorflow
        pass
    warnings.filterwarnings("ignore", module="keras.src.*")


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras and make TF ops deterministic."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def set_plot_style() -> None:
    """One readable matplotlib style for every chapter."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 80,
            "figure.figsize": (8, 4),
            "axes.grid": False,
            "axes.titlesize": 11,
            "image.interpolation": "nearest",
        }
    )


def device_name() -> str:
    """'GPU' if TensorFlow sees one, else 'CPU (<machine>)'."""
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({platform.machine()})"


def setup(seed: int = DEFAULT_SEED, data_source: str = "") -> None:
    """Quiet logs, seed everything, style plots, and print the chapter's status line."""
    quiet_tensorflow()
    seed_everything(seed)
    set_plot_style()
    import keras
    import tensorflow as tf

    parts = [
        f"mode: {mode_name()}",
        f"offline: {'yes' if is_offline() else 'no'}",
        f"TensorFlow {tf.__version__}",
        f"Keras {keras.__version__}",
        f"device: {device_name()}",
        f"seed: {seed}",
    ]
    if data_source:
        parts.append(f"data: {data_source}")
    print(" | ".join(parts))
