"""Figures for the chapters; every function returns the matplotlib Figure it drew."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .images import check_image, check_kernel


def _imshow(ax: plt.Axes, image: np.ndarray, title: str = "", cmap: str | None = "auto") -> None:
    """Show one image on `ax`: 2-D arrays in gray unless another cmap is given."""
    if cmap == "auto":
        cmap = "gray" if image.ndim == 2 else None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap=cmap)
    ax.set_title(title)
    ax.axis("off")


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    cmap: str | None = "auto",
    size: float = 2.5,
    suptitle: str = "",
) -> Figure:
    """A grid of images with a title each; 2-D arrays are drawn in gray."""
    if len(images) == 0:
        raise ValueError("images is empty: nothing to show")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    for i, image in enumerate(images):
        check_image(np.asarray(image), f"images[{i}]")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            _imshow(ax, np.asarray(images[i]), titles[i] if titles else "", cmap)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def compare_images(images: dict[str, np.ndarray], cmap: str | None = "auto", size: float = 3.5, suptitle: str = "") -> Figure:
    """Images side by side in one row, titled by their dictionary keys."""
    if not images:
        raise ValueError("images is empty: nothing to compare")
    return show_images(list(images.values()), list(images.keys()), ncols=len(images), cmap=cmap, size=size, suptitle=suptitle)


def show_kernel_effect(image: np.ndarray, kernel: np.ndarray, result: np.ndarray, name: str = "kernel") -> Figure:
    """Input, the kernel with its numbers written in, and the filtered output, in one row."""
    check_image(image)
    kernel = check_kernel(kernel)
    check_image(result, "result")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2, 3]})
    _imshow(axes[0], image, "input")
    limit = max(abs(kernel).max(), 1e-12)
    axes[1].imshow(kernel, cmap="coolwarm", vmin=-limit, vmax=limit)
    for (r, c), value in np.ndenumerate(kernel):
        axes[1].text(c, r, f"{value:g}", ha="center", va="center", fontsize=9)
    axes[1].set_title(f"{name} {kernel.shape[0]}x{kernel.shape[1]}")
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    _imshow(axes[2], result, "output")
    fig.tight_layout()
    return fig


def show_matrix(matrix: np.ndarray, title: str = "", ax: plt.Axes | None = None, fmt: str = "g", cmap: str = "Blues") -> Figure:
    """A small 2-D array as a heat map with every value written in its cell."""
    check_image(matrix, "matrix", ndim=(2,))
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.55 * matrix.shape[1] + 1, 0.55 * matrix.shape[0] + 0.8))
    else:
        fig = ax.figure
    ax.imshow(matrix, cmap=cmap)
    mid = (matrix.max() + matrix.min()) / 2
    for (r, c), value in np.ndenumerate(matrix):
        ax.text(c, r, format(value, fmt), ha="center", va="center", fontsize=8,
                color="white" if value > mid else "black")
    ax.set_title(title)
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    return fig


def channel_histograms(image: np.ndarray, bins: int = 64, title: str = "Channel histograms") -> Figure:
    """Histograms of the R, G and B values (or of the gray values) of one image."""
    check_image(image)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if image.ndim == 2:
        ax.hist(image.ravel(), bins=bins, color="gray")
    else:
        for channel, color in zip(range(3), ("red", "green", "blue")):
            ax.hist(image[..., channel].ravel(), bins=bins, color=color, alpha=0.45, label=color)
        ax.legend()
    ax.set_title(title)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("number of pixels")
    fig.tight_layout()
    return fig


def _history_dict(history: object) -> dict[str, list[float]]:
    """Accept a keras History or its .history dict."""
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or not values:
        raise ValueError("history must be a non-empty keras History or dict of per-epoch lists")
    return values


def plot_history(histories: dict[str, object], metrics: Sequence[str] = ("accuracy", "loss"),
                 title: str = "Learning curves") -> Figure:
    """Training (solid) and validation (dashed) curves per epoch, one panel per metric, one colour per run."""
    if not histories:
        raise ValueError("histories is empty: nothing to plot")
    runs = {name: _history_dict(h) for name, h in histories.items()}
    for name, values in runs.items():
        missing = [m for m in metrics if m not in values]
        if missing:
            raise ValueError(f"history {name!r} has no {missing}; it has {sorted(values)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for index, (name, values) in enumerate(runs.items()):
            colour = f"C{index}"
            epochs = range(1, len(values[metric]) + 1)
            ax.plot(epochs, values[metric], "-o", color=colour, markersize=3, label=f"{name} train")
            if f"val_{metric}" in values:
                ax.plot(epochs, values[f"val_{metric}"], "--s", color=colour, markersize=3,
                        label=f"{name} validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
