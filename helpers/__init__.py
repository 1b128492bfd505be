"""Tested helpers for the cnn-course notebooks: configuration, images, plots, metrics, flower folders."""

from . import config, flowers, images, metrics, plots, training
from .config import pick, setup

__all__ = ["config", "flowers", "images", "metrics", "plots", "training", "pick", "setup"]
