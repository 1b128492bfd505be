"""Tested helpers for the cnn-course notebooks: configuration, data sets, images, plots, evaluation, metrics."""

from . import config, datasets, evaluation, flowers, images, metrics, models, plots, training
from .config import pick, setup

__all__ = ["config", "datasets", "evaluation", "flowers", "images", "metrics", "models", "plots", "training",
           "pick", "setup"]
