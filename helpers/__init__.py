"""Tested helpers for the cnn-course notebooks.

`import helpers` is cheap: it loads only `pick`, `seed` and `setup`; every submodule (`helpers.datasets`,
`helpers.plots`, ...) is imported the first time it is used, so a NumPy-only module never pulls in
TensorFlow, Pillow or matplotlib.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .config import pick
from .session import seed, setup

SUBMODULES = (
    "benchmark_records", "config", "controls", "datasets", "detection", "digit_detector", "distributed", "downloads",
    "evaluation", "exercises", "explain", "fashion_worker", "flowers", "idx", "image_folders", "images", "models",
    "paths", "plots", "pretrained", "saving", "scenes", "session", "synthetic_flowers", "training",
)

__all__ = [*SUBMODULES, "pick", "seed", "setup"]


def __getattr__(name: str) -> ModuleType:
    """Import a submodule on first access (`helpers.plots`), so `import helpers` stays light."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
