"""Tested helpers for the cnn-course notebooks: configuration, images, plots, metrics."""

from . import config, images, metrics, plots, training
from .config import pick, setup

__all__ = ["config", "images", "metrics", "plots", "training", "pick", "setup"]
