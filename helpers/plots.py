"""Figures for the chapters; every function returns the matplotlib Figure it drew."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .images import check_image, check_kernel


def set_style() -> None:
    """One readable matplotlib style for every chapter."""
    plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (8, 4), "axes.grid": False,
                         "axes.titlesize": 11, "image.interpolation": "nearest"})


def _imshow(ax: plt.Axes, image: np.ndarray, title: str = "", cmap: str | None = "auto",
            vmin: float | None = None, vmax: float | None = None) -> None:
    """Show one image on `ax`: 2-D arrays in gray unless another cmap is given; vmin/vmax fix the scale."""
    if cmap == "auto":
        cmap = "gray" if image.ndim == 2 else None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ax.axis("off")


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    cmap: str | None = "auto",
    size: float = 2.5,
    suptitle: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Figure:
    """A grid of images with a title each; 2-D arrays in gray, autoscaled unless vmin/vmax fix one scale for all."""
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
    # "constrained" layout keeps the titles and the suptitle from overlapping the images.
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            _imshow(ax, np.asarray(images[i]), titles[i] if titles else "", cmap, vmin, vmax)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_on_one_scale(arrays: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 8,
                      size: float = 1.2, suptitle: str = "", signed: bool = False, label: str = "value") -> Figure:
    """2-D arrays on one shared colour scale with a colour bar; signed=True: diverging colours, limits ±max|value|."""
    arrays = [check_image(np.asarray(a, dtype=float), f"arrays[{i}]", ndim=(2,)) for i, a in enumerate(arrays)]
    if not arrays:
        raise ValueError("arrays is empty: nothing to show")
    if signed:
        limit = max(float(np.abs(a).max()) for a in arrays) or 1.0
        vmin, vmax, cmap = -limit, limit, "RdBu_r"
    else:
        vmin, vmax, cmap = min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays), "magma"
    fig = show_images(arrays, titles, ncols=ncols, cmap=cmap, size=size, suptitle=suptitle, vmin=vmin, vmax=vmax)
    fig.colorbar(fig.axes[0].images[0], ax=fig.axes, shrink=0.8, label=label)
    return fig


def compare_images(images: dict[str, np.ndarray], cmap: str | None = "auto", size: float = 3.5, suptitle: str = "",
                   vmin: float | None = None, vmax: float | None = None) -> Figure:
    """Images side by side in one row, titled by their dictionary keys (vmin/vmax: one scale for all)."""
    if not images:
        raise ValueError("images is empty: nothing to compare")
    return show_images(list(images.values()), list(images.keys()), ncols=len(images), cmap=cmap, size=size,
                       suptitle=suptitle, vmin=vmin, vmax=vmax)


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


def channel_histograms(image: np.ndarray, bins: int | np.ndarray | None = None,
                       title: str = "Channel histograms") -> Figure:
    """Histograms of the R, G and B (or gray) values; by default one bin per whole value, 64 bins for floats."""
    check_image(image)
    if bins is None:  # whole numbers: a bin each, so no bin holds more values than its neighbour
        whole = np.issubdtype(image.dtype, np.integer) or image.dtype == bool
        bins = np.arange(int(image.min()), int(image.max()) + 2) if whole else 64
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
                 title: str = "Learning curves", colours: dict[str, str] | None = None) -> Figure:
    """Training (solid, dots) and validation (dashed, open squares) per epoch, a panel per metric; `colours` pins runs."""
    if not histories:
        raise ValueError("histories is empty: nothing to plot")
    runs = {name: _history_dict(h) for name, h in histories.items()}
    for name, values in runs.items():
        missing = [m for m in metrics if m not in values]
        if missing:
            raise ValueError(f"history {name!r} has no {missing}; it has {sorted(values)}")
    colours = dict(colours or {})
    unknown = sorted(set(colours) - set(runs))
    if unknown:
        raise ValueError(f"colours names runs that are not plotted: {unknown}; the runs are {sorted(runs)}")
    bad = {name: colour for name, colour in colours.items() if not is_color_like(colour)}
    if bad:
        raise ValueError(f"not matplotlib colours: {bad}")
    # Unpinned runs take C0, C1, ... by position, so two figures can keep one run's colour by pinning it.
    colour_of = {name: colours.get(name, f"C{index}") for index, name in enumerate(runs)}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False, layout="constrained")
    legend_lines: dict[str, object] = {}
    for ax, metric in zip(axes[0], metrics):
        drawn = {}
        for name, values in runs.items():
            epochs = range(1, len(values[metric]) + 1)
            drawn[f"{name} train"] = ax.plot(epochs, values[metric], "-o", color=colour_of[name], markersize=3.5,
                                             label=f"{name} train")[0]
        # Validation on top, with open markers and gaps in the dashes: a training curve underneath stays visible.
        for name, values in runs.items():
            if f"val_{metric}" in values:
                epochs = range(1, len(values[f"val_{metric}"]) + 1)
                drawn[f"{name} validation"] = ax.plot(
                    epochs, values[f"val_{metric}"], "--s", color=colour_of[name], markersize=6,
                    markerfacecolor="none", markeredgewidth=1.2, label=f"{name} validation")[0]
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        legend_lines = legend_lines or drawn
    # One legend below the panels (from the first), so it never covers a curve; each run's two lines side by side.
    order = [label for name in runs for label in (f"{name} train", f"{name} validation") if label in legend_lines]
    fig.legend([legend_lines[label] for label in order], order, loc="outside lower center", ncols=min(len(order), 4),
               fontsize=8)
    fig.suptitle(title)
    return fig


def plot_timeline(rows: dict[str, Sequence[tuple[str, float, float]]], events: dict[str, float] | None = None,
                  title: str = "What happened when") -> Figure:
    """Labelled time spans as bars, one row per key, in seconds from the earliest start; events as dashed lines.

    'start-up' and 'finishing' spans are grey, 'epoch N' takes colour N, and a label containing 'lost'
    is red and hatched (work thrown away). Made for `helpers.distributed.WorkerCluster.timeline()`.
    """
    spans = [span for row in rows.values() for span in row]
    if not spans:
        raise ValueError("rows hold no spans: nothing to plot")
    if any(end < start for _, start, end in spans):
        raise ValueError("every span must end at or after its start")
    origin = min(start for _, start, end in spans)
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(rows) + 1.8), layout="constrained")
    handles: dict[str, object] = {}
    for y, (name, row) in enumerate(rows.items()):
        for label, start, end in row:
            if "lost" in label:
                key, style = "work lost", {"color": "mistyrose", "edgecolor": "red", "hatch": "//"}
            elif label.startswith("epoch"):
                number = int(label.split()[1])
                key, style = f"epoch {number}", {"color": f"C{number - 1}"}
            else:
                key, style = label, {"color": "lightgray" if label == "start-up" else "white", "edgecolor": "gray"}
            bar = ax.barh(y, end - start, left=start - origin, height=0.6, **style)
            handles.setdefault(key, bar)
    for number, (label, moment) in enumerate((events or {}).items()):
        ax.axvline(moment - origin, color="black", linestyle="--", linewidth=1)
        ax.annotate(label, (moment - origin, -0.55 - 0.3 * (number % 2)), fontsize=8, ha="center", va="bottom",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_ylim(len(rows) - 0.5, -1.2)  # first row on top, room for the event labels above it
    ax.set_xlabel("seconds since the first start")
    ax.set_title(title)
    order = sorted(handles, key=lambda key: (key != "start-up", "lost" in key, key == "finishing", key))
    fig.legend([handles[key] for key in order], order, loc="outside lower center", ncols=min(len(order), 6), fontsize=8)
    return fig


# --- classifier results (chapters 03-05) ----------------------------------------------


def _class_name(class_names: Sequence[str] | None, index: int) -> str:
    """The name of class `index`, or the index itself when there are no names."""
    return str(class_names[index]) if class_names is not None else str(index)


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], title: str = "Confusion matrix",
                          normalize: bool = False, mistakes_only: bool = False) -> Figure:
    """sklearn's ConfusionMatrixDisplay sized to the classes; optionally row shares, or colour on the mistakes only."""
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    if len(class_names) != matrix.shape[0]:
        raise ValueError(f"{matrix.shape[0]} classes but {len(class_names)} class names")
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    size = 0.55 * len(class_names) + 2.5
    fig, ax = plt.subplots(figsize=(size + 1, size))
    display = ConfusionMatrixDisplay(shown, display_labels=[str(n) for n in class_names])
    display.plot(ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", xticks_rotation=45, colorbar=False)
    label = "share of the row" if normalize else "count"
    if mistakes_only:
        # The diagonal (right answers) keeps its numbers but no colour; the mistakes get the whole scale.
        diagonal = np.eye(len(shown), dtype=bool)
        mistakes = np.ma.masked_array(shown, mask=diagonal)
        top = max(float(np.max(shown[~diagonal], initial=0)), 1e-9 if normalize else 1.0)
        display.im_.set(data=mistakes, cmap=plt.get_cmap("Reds").with_extremes(bad="whitesmoke"), clim=(0, top))
        for (row, column), text in np.ndenumerate(display.text_):
            text.set_color("white" if row != column and shown[row, column] > 0.6 * top else "black")
        label = f"mistakes: {label} (diagonal not coloured)"
    bar = fig.colorbar(display.im_, ax=ax, fraction=0.046, pad=0.04, label=label)
    if not normalize:
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    # Counts as large as the cells allow: 11 pt for ten classes, never below 7 or above 12.
    for text in display.text_.flat:
        text.set_fontsize(max(7, min(12, round(110 / len(class_names)))))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def show_predictions(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                     class_names: Sequence[str] | None = None, ncols: int = 8, size: float = 1.4,
                     suptitle: str = "", confidences: Sequence[float] | None = None) -> Figure:
    """A gallery titled "true / predicted" (and the predicted class's probability if given): wrong ones in red."""
    images = np.asarray(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(images) == 0:
        raise ValueError("images is empty: nothing to show")
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(f"got {len(images)} images, {len(y_true)} true and {len(y_pred)} predicted labels")
    if confidences is not None and len(confidences) != len(images):
        raise ValueError(f"got {len(images)} images but {len(confidences)} confidences")
    titles = [f"{_class_name(class_names, t)} / {_class_name(class_names, p)}" for t, p in zip(y_true, y_pred)]
    if confidences is not None:
        titles = [f"{title} ({float(c):.2f})" for title, c in zip(titles, confidences)]
    fig = show_images(list(images), titles, ncols=ncols, size=size,
                      suptitle=suptitle or "true / predicted (wrong in red)")
    for ax, t, p in zip(fig.axes, y_true, y_pred):
        ax.title.set_color("red" if t != p else "black")
        ax.title.set_fontsize(8)
    return fig


def show_misclassified(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                       class_names: Sequence[str] | None = None, limit: int = 24, ncols: int = 8,
                       suptitle: str = "") -> Figure:
    """The first `limit` misclassified images, titled "true / predicted" in red; the default suptitle counts all."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    wrong = np.flatnonzero(y_true != y_pred)[:limit]
    if len(wrong) == 0:
        raise ValueError("no misclassified examples: every prediction is right")
    total = int(np.sum(y_true != y_pred))
    shown = f"{len(wrong)}" if len(wrong) == total else f"The first {len(wrong)} of {total}"
    title = suptitle or f"{shown} misclassified: true / predicted"
    return show_predictions(np.asarray(images)[wrong], y_true[wrong], y_pred[wrong], class_names,
                            ncols=ncols, suptitle=title)


def probability_bars(probabilities: np.ndarray, class_names: Sequence[str], true_class: int | None = None,
                     title: str = "Predicted probabilities", image: np.ndarray | None = None) -> Figure:
    """One prediction as a bar per class (predicted blue, true class red if wrong, with a legend), beside its image."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 1 or len(probabilities) != len(class_names):
        raise ValueError(f"expected {len(class_names)} probabilities in a 1-D array, got shape {probabilities.shape}")
    if probabilities.min() < 0 or abs(probabilities.sum() - 1) > 1e-3:
        raise ValueError(f"probabilities must be >= 0 and sum to 1, got sum {probabilities.sum():.4f}")
    if true_class is not None and (isinstance(true_class, bool) or not isinstance(true_class, (int, np.integer))
                                   or not 0 <= true_class < len(class_names)):
        raise ValueError(f"true_class must be a class index in 0..{len(class_names) - 1}, got {true_class!r}")
    predicted = int(np.argmax(probabilities))
    colours = ["lightgray"] * len(class_names)
    if true_class is not None and true_class != predicted:
        colours[true_class] = "red"
    colours[predicted] = "tab:blue"
    width = 0.55 * len(class_names) + 2
    if image is None:
        fig, ax = plt.subplots(figsize=(width, 3))
    else:
        check_image(np.asarray(image), "image")
        fig, (picture, ax) = plt.subplots(1, 2, figsize=(width + 3, 3), gridspec_kw={"width_ratios": [3, width]})
        _imshow(picture, np.asarray(image), "input")
    bars = ax.bar(range(len(class_names)), probabilities, color=colours)
    if true_class is not None:
        roles = {"predicted class" + (" (right)" if true_class == predicted else " (wrong)"): bars[predicted]}
        if true_class != predicted:
            roles["true class"] = bars[true_class]
        others = [bar for index, bar in enumerate(bars) if index not in (predicted, true_class)]
        if others:
            roles["other classes"] = others[0]
        # Outside the bars, to the right, so it never covers one.
        ax.legend(roles.values(), roles.keys(), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.set_xticks(range(len(class_names)), [str(n) for n in class_names],
                  rotation=45 if max(len(str(n)) for n in class_names) > 2 else 0, ha="right" if
                  max(len(str(n)) for n in class_names) > 2 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def show_output_grid(size: int, kernel: int, stride: int, padding: str) -> Figure:
    """The padded input grid with the kernel's first windows, and the output grid it gives (one axis's rule on both)."""
    from .images import conv_output_size, padding_amounts

    for value, name in ((size, "size"), (kernel, "kernel"), (stride, "stride")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    before, after = padding_amounts(size, kernel, stride, padding)
    padded = size + before + after
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for ax in (left, right):
        ax.set_aspect("equal")
        ax.axis("off")
    for row in range(padded):
        for col in range(padded):
            inside = before <= row < before + size and before <= col < before + size
            left.add_patch(plt.Rectangle((col, row), 1, 1, facecolor="#cfe2f3" if inside else "white",
                                         edgecolor="gray", hatch=None if inside else "//", linewidth=0.6))
    left.set(xlim=(-0.2, padded + 0.2), ylim=(padded + 0.2, -0.2))
    if padded < kernel:
        outputs = 0
        left.set_title(f"{size}x{size} input, {padding}: the {kernel}x{kernel} kernel does not fit")
        right.text(0.5, 0.5, "no output", ha="center", va="center", transform=right.transAxes)
    else:
        outputs = conv_output_size(size, kernel, stride, padding)
        for step, style in ((0, "-"), (1, "--")):                       # the first window and the one a stride on
            if step < outputs:
                left.add_patch(plt.Rectangle((step * stride, 0), kernel, kernel, fill=False, edgecolor="C3",
                                             linestyle=style, linewidth=2.2))
        left.set_title(f"{size}x{size} input, {before}+{after} zeros per axis ({padding}), kernel {kernel}x{kernel}, "
                       f"stride {stride}", fontsize=9)
        for row in range(outputs):
            for col in range(outputs):
                right.add_patch(plt.Rectangle((col, row), 1, 1, facecolor="#f4cccc", edgecolor="gray"))
        right.set(xlim=(-0.2, max(outputs, 1) + 0.2), ylim=(max(outputs, 1) + 0.2, -0.2))
        right.set_title(f"output {outputs}x{outputs}: ({size} + {before + after} - {kernel}) // {stride} + 1",
                        fontsize=9)
    fig.suptitle(f"n={size}, k={kernel}, s={stride}, {padding} -> output {outputs}x{outputs}")
    fig.tight_layout()
    return fig


def show_augmented(image: np.ndarray, augmentation, count: int = 8, title: str = "") -> Figure:
    """`image` (H, W, 3, 0-255) and `count` variants of it made by `augmentation` in training mode, in a 3-column grid."""
    check_image(image, ndim=(3,))
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    batch = np.repeat(np.asarray(image, np.float32)[None], count, axis=0)     # one random draw per copy
    variants = np.asarray(augmentation(batch, training=True))
    if variants.shape != batch.shape:
        raise ValueError(f"augmentation changed the batch's shape from {batch.shape} to {variants.shape}")
    shown = [np.clip(v, 0, 255).astype("uint8") for v in [batch[0], *variants]]
    return show_images(shown, ["original"] + [f"variant {i}" for i in range(1, count + 1)], ncols=3, size=2.4,
                       suptitle=title)


def show_activations(maps: Mapping[str, np.ndarray], channels: int | Mapping[str, int] = 8, ncols: int = 8,
                     size: float = 1.2, suptitle: str = "", label: str = "activation") -> Figure:
    """Each layer's first `channels` feature maps (or as many as channels[layer]), `ncols` a row, one colour scale per layer."""
    if not maps:
        raise ValueError("maps is empty: nothing to show")
    shown_channels = dict(channels) if isinstance(channels, Mapping) else {name: channels for name in maps}
    if set(shown_channels) != set(maps):
        raise ValueError(f"channels must name every layer of maps {list(maps)}, got {list(shown_channels)}")
    for value, name in [*((count, f"channels[{layer!r}]") for layer, count in shown_channels.items()), (ncols, "ncols")]:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    rows = {}
    for name, values in maps.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 3:
            raise ValueError(f"maps[{name!r}] must be (height, width, channels) for one image, got shape {values.shape}")
        rows[name] = values[..., :shown_channels[name]]
    ncols = min(ncols, max(values.shape[-1] for values in rows.values()))
    lines = [math.ceil(values.shape[-1] / ncols) for values in rows.values()]
    fig = plt.figure(figsize=(size * ncols + 1.2, sum(size * n + 0.45 for n in lines) + (0.4 if suptitle else 0)),
                     layout="constrained")
    subfigures = np.atleast_1d(fig.subfigures(len(rows), 1, height_ratios=[size * n + 0.45 for n in lines]))
    for subfigure, n_lines, (name, shown) in zip(subfigures, lines, rows.items()):
        signed = bool(shown.min() < 0)
        limit = float(np.abs(shown).max()) or 1.0
        vmin, vmax, cmap = (-limit, limit, "RdBu_r") if signed else (0.0, float(shown.max()) or 1.0, "magma")
        axes = subfigure.subplots(n_lines, ncols, squeeze=False).ravel()
        for index, ax in enumerate(axes):
            if index < shown.shape[-1]:
                _imshow(ax, shown[..., index], str(index), cmap, vmin, vmax)
            else:
                ax.axis("off")
        subfigure.colorbar(axes[0].images[0], ax=axes, shrink=0.9, label=label)
        subfigure.suptitle(f"{name}: {shown.shape[-1]} of {np.shape(maps[name])[-1]} channels, "
                           f"{shown.shape[0]}x{shown.shape[1]}", fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_heatmaps(images: Sequence[np.ndarray], maps: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                  ncols: int = 5, size: float = 2.0, suptitle: str = "", shared: bool = False) -> Figure:
    """Each map (height, width, >= 0) over its gray or colour image, scaled to its own maximum (shared=True: to the largest map's)."""
    if len(images) == 0 or len(images) != len(maps):
        raise ValueError(f"need as many maps as images, at least one: got {len(images)} images and {len(maps)} maps")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = max(1, min(ncols, len(images)))
    nrows = math.ceil(len(images) / ncols)
    largest = max(float(np.max(heat)) for heat in maps)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1.0, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        image, heat = np.asarray(images[index]), np.asarray(maps[index], dtype=float)
        check_image(image, f"images[{index}]")
        if heat.shape != image.shape[:2] or (heat < 0).any():
            raise ValueError(f"maps[{index}] must be >= 0 with the image's height and width {image.shape[:2]}, "
                             f"got shape {heat.shape}")
        _imshow(ax, image, titles[index] if titles else "", "gray" if image.ndim == 2 or image.shape[2] == 1 else None)
        peak = largest if shared else heat.max()
        ax.imshow(heat / peak if peak > 0 else heat, cmap="jet", vmin=0, vmax=1, alpha=0.45)
    fig.colorbar(plt.cm.ScalarMappable(cmap="jet"), ax=axes, shrink=0.8,
                 label="map / the largest map's maximum" if shared else "map / its maximum")
    if suptitle:
        fig.suptitle(suptitle)
    return fig
