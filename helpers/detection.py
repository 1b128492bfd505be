"""Object detection helpers: boxes and IoU, matching detections to ground truth, drawing, and loading detectors.

Drawing covers boxes on an image (`draw_boxes`) and, for a score-threshold slider, the boxes kept at one
threshold beside recall and precision at every threshold (`show_score_threshold`).

Boxes follow TensorFlow's convention, [ymin, xmin, ymax, xmax]: rows first, the top edge is ymin, and
normalized boxes are fractions of the image height and width. Detectors (TF-Hub's Faster R-CNN, or the
course's exported digit detector) are loaded with `tensorflow_hub.load` through `load_hub_model`,
which applies the course's download policy: the offline switch, a socket timeout, stale lock files
removed from the TF-Hub cache (by tensorflow_hub's own rule), and one NotAvailableError naming every
place looked and what the failure's cause calls for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import OFFLINE_ENV, is_offline
from .downloads import DEFAULT_TIMEOUT_S, GO_ONLINE, RECONNECT, NotAvailableError, diagnose, socket_timeout
from .paths import shown

if TYPE_CHECKING:          # for annotations only
    from matplotlib.figure import Figure

FASTER_RCNN_HANDLE = ("https://www.kaggle.com/models/google/faster-rcnn-inception-resnet-v2/TensorFlow1/"
                      "faster-rcnn-openimages-v4-inception-resnet-v2/1")
HANDLE_ENV = "COURSE_DETECTOR_HANDLE"
OUTPUT_KEYS = ("detection_boxes", "detection_scores", "detection_class_entities", "detection_class_names",
               "detection_class_labels")
# The dtypes of those outputs in the `default` signature (TF-Hub's Faster R-CNN on Open Images V4).
OUTPUT_DTYPES = {"detection_boxes": "float32", "detection_scores": "float32", "detection_class_entities": "string",
                 "detection_class_names": "string", "detection_class_labels": "int64"}
# tensorflow_hub takes a lock over when its download made no progress for this long
# (tensorflow_hub/compressed_module_resolver.py: LOCK_FILE_TIMEOUT_SEC).
LOCK_MAX_AGE_S = 600.0
KAGGLE_403_ADVICE = (
    "Kaggle Models, which serves TF-Hub's handles, refuses some downloads with HTTP 403 now and then (reported in "
    "tensorflow/hub#922 and #932): try again later, or download the model from its Kaggle page in a browser, "
    "unpack it and set {env} to that folder")


def check_boxes(boxes: object, name: str = "boxes") -> np.ndarray:
    """`boxes` as a float64 (N, 4) array of [ymin, xmin, ymax, xmax], or a ValueError saying what is wrong."""
    array = np.asarray(boxes, dtype=np.float64) if not isinstance(boxes, str) else None
    if array is None or array.ndim != 2 or array.shape[1] != 4:
        shape = None if array is None else array.shape
        raise ValueError(f"{name} must be an (N, 4) array of [ymin, xmin, ymax, xmax], got shape {shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    bad = np.nonzero((array[:, 0] > array[:, 2]) | (array[:, 1] > array[:, 3]))[0]
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] = {array[bad[0]].tolist()} has ymin > ymax or xmin > xmax; "
                         "the order is [ymin, xmin, ymax, xmax]")
    return array


def iou(a: object, b: object) -> np.ndarray:
    """Intersection over union of every box in `a` with every box in `b`: an (len(a), len(b)) matrix."""
    a, b = check_boxes(a, "a"), check_boxes(b, "b")
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def to_pixels(boxes: object, height: int, width: int) -> np.ndarray:
    """Normalized [ymin, xmin, ymax, xmax] boxes to pixel coordinates of a height x width image."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return check_boxes(boxes) * np.array([height, width, height, width], np.float64)


def from_xywh(boxes: object) -> np.ndarray:
    """Pixel boxes as [x, y, width, height] (MTCNN, OpenCV, scikit-image) to [ymin, xmin, ymax, xmax]."""
    array = np.asarray(boxes, np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    if (array[:, 2:] < 0).any():
        raise ValueError("widths and heights must not be negative")
    x, y, w, h = array.T
    return np.stack([y, x, y + h, x + w], axis=1)


def decode(values: object) -> list[str]:
    """Byte strings from a detector (a tf.string tensor or array of bytes) as Python str."""
    array = np.asarray(values.numpy() if hasattr(values, "numpy") else values, dtype=object).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array]


def as_numpy(result: dict) -> dict[str, np.ndarray]:
    """A detector's output dict with every tensor as a NumPy array (class strings decoded to str)."""
    missing = [key for key in OUTPUT_KEYS if key not in result]
    if missing:
        raise KeyError(f"not a detector output: missing {missing}; expected the keys {list(OUTPUT_KEYS)}")
    out = {key: np.asarray(value.numpy() if hasattr(value, "numpy") else value) for key, value in result.items()}
    for key in ("detection_class_entities", "detection_class_names"):
        out[key] = np.array(decode(out[key]), dtype=object)
    return out


def above(result: dict[str, np.ndarray], min_score: float) -> dict[str, np.ndarray]:
    """The detections whose score is at least `min_score` (every output key filtered alike)."""
    if not 0 <= min_score <= 1:
        raise ValueError(f"min_score must be in [0, 1], got {min_score}")
    keep = np.asarray(result["detection_scores"]) >= min_score
    return {key: np.asarray(value)[keep] for key, value in result.items()}


def match_flags(pred_boxes: object, pred_labels: Sequence, true_boxes: object, true_labels: Sequence,
                iou_threshold: float = 0.5) -> np.ndarray:
    """For each prediction (in the given order, best first): is it a hit, matched one-to-one to a same-label
    true box at IoU >= threshold that no earlier prediction took? A bool array, one per prediction."""
    overlaps = iou(np.reshape(pred_boxes, (-1, 4)), np.reshape(true_boxes, (-1, 4)))
    if len(pred_labels) != overlaps.shape[0] or len(true_labels) != overlaps.shape[1]:
        raise ValueError("need one label per box")
    used = np.zeros(overlaps.shape[1], bool)
    hits = np.zeros(overlaps.shape[0], bool)
    for i in range(overlaps.shape[0]):
        candidates = [(overlaps[i, j], j) for j in range(overlaps.shape[1])
                      if not used[j] and pred_labels[i] == true_labels[j] and overlaps[i, j] >= iou_threshold]
        if candidates:
            used[max(candidates)[1]] = True
            hits[i] = True
    return hits


def match(pred_boxes: object, pred_labels: Sequence, true_boxes: object, true_labels: Sequence,
          iou_threshold: float = 0.5) -> int:
    """True positives: predictions (in the given order, best first) matched one-to-one to a same-label box at IoU >= threshold."""
    return int(match_flags(pred_boxes, pred_labels, true_boxes, true_labels, iou_threshold).sum())


def draw_boxes(image: np.ndarray, boxes: object, labels: Sequence[str] = (), scores: Sequence[float] = (),
               normalized: bool = True, title: str = "", ax=None, colour: str | Sequence[str] = "yellow",
               linewidth: float = 2.0, alpha: float = 1.0):
    """Show `image` with each [ymin, xmin, ymax, xmax] box outlined and labelled 'label: score'; return the Figure.

    Boxes come best first (as detectors return them), so where labels overlap, the better box's label is on top.
    Box edges are drawn on pixel edges: a box from row 10 to row 20 covers pixel rows 10..19. `colour` is one
    colour or one per box; thin (`linewidth`) translucent (`alpha` < 1) outlines keep many boxes readable.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    height, width = image.shape[:2]
    boxes = check_boxes(np.reshape(boxes, (-1, 4)))
    pixels = to_pixels(boxes, height, width) if normalized else boxes
    if labels and len(labels) != len(pixels) or len(scores) and len(scores) != len(pixels):
        raise ValueError(f"got {len(pixels)} boxes, {len(labels)} labels and {len(scores)} scores")
    colours = [colour] * len(pixels) if isinstance(colour, str) else list(colour)
    if len(colours) != len(pixels):
        raise ValueError(f"got {len(pixels)} boxes and {len(colours)} colours")
    if not (linewidth > 0 and 0 < alpha <= 1):
        raise ValueError(f"need linewidth > 0 and 0 < alpha <= 1, got {linewidth} and {alpha}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 6 * height / width))
    fig = ax.figure
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    for i, (ymin, xmin, ymax, xmax) in enumerate(pixels):
        # imshow puts pixel centres on integers, so pixel edges sit at -0.5, 0.5, ...
        ax.add_patch(Rectangle((xmin - 0.5, ymin - 0.5), xmax - xmin, ymax - ymin, fill=False,
                               edgecolor=colours[i], linewidth=linewidth, alpha=alpha))
        text = labels[i] if labels else ""
        if len(scores):
            text = f"{text}: {scores[i]:.0%}" if text else f"{scores[i]:.0%}"
        if text:
            ax.text(xmin - 0.5, ymin - 1.5, text, color="black", fontsize=8, va="bottom",
                    bbox={"facecolor": colours[i], "edgecolor": "none", "pad": 1},
                    zorder=3 + len(pixels) - i)   # earlier (better) boxes' labels on top of later ones
    ax.set_title(title or f"{len(pixels)} boxes")
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def table(result: dict[str, np.ndarray], height: int, width: int) -> str:
    """Detections as a text table: label, score and the pixel box, one row each."""
    boxes = to_pixels(np.reshape(result["detection_boxes"], (-1, 4)), height, width)
    rows = [f"{'label':<12} {'score':>5}   {'ymin':>5} {'xmin':>5} {'ymax':>5} {'xmax':>5}"]
    for entity, score, box in zip(result["detection_class_entities"], result["detection_scores"], boxes):
        rows.append(f"{entity:<12} {score:5.2f}   " + " ".join(f"{v:5.0f}" for v in box))
    return "\n".join(rows)


THRESHOLD_CURVE_STEPS = 101   # thresholds 0, 0.01, ..., 1 on the recall and precision curves
MAX_LABELLED = 12              # a scene panel labels its boxes only up to this many; more are thin outlines


def show_score_threshold(min_score: float, scenes: Sequence, results: Sequence[dict], found,
                         names: Sequence[str] = ()) -> Figure:
    """The boxes scoring >= `min_score` on a few scenes (hits yellow, false red) beside recall and precision against the threshold.

    `results` are a digit detector's outputs on `scenes` (`as_numpy` dicts, computed once) and `found` is
    `digit_detector.detect_all` over every scene evaluated: a new threshold only filters them, the detector
    does not run again. A hit is what `match_flags` counts, recall and precision are
    `digit_detector.recall_precision`'s, over all of `found`'s scenes; the dashed line marks `min_score`.
    """
    import matplotlib.pyplot as plt

    from .digit_detector import Detections, recall_precision

    if isinstance(min_score, bool) or not isinstance(min_score, (int, float, np.number)) or not 0 <= min_score <= 1:
        raise ValueError(f"min_score must be a number in [0, 1], got {min_score!r}")
    if not 1 <= len(scenes) <= 3:
        raise ValueError(f"show 1 to 3 scenes beside the curves, got {len(scenes)}")
    if len(results) != len(scenes):
        raise ValueError(f"need one detector result per scene, got {len(results)} results for {len(scenes)} scenes")
    names = list(names) or [f"scene {i}" for i in range(len(scenes))]
    if len(names) != len(scenes):
        raise ValueError(f"need one name per scene, got {len(names)} names for {len(scenes)} scenes")
    if not isinstance(found, Detections):
        raise TypeError(f"found must be the Detections of digit_detector.detect_all, got {type(found).__name__}")
    fig, axes = plt.subplots(1, len(scenes) + 1, figsize=(4.3 * (len(scenes) + 1), 5.0))
    for ax, scene, result, name in zip(axes, scenes, results, names):
        kept = above(result, min_score)
        digits = [int(label) - 1 for label in kept["detection_class_labels"]]    # labels count from 1
        hits = match_flags(kept["detection_boxes"], digits, scene.boxes, list(scene.labels))
        few = len(hits) <= MAX_LABELLED
        draw_boxes(scene.image, kept["detection_boxes"], list(kept["detection_class_entities"]) if few else (),
                   kept["detection_scores"] if few else (), colour=["yellow" if h else "red" for h in hits], ax=ax,
                   linewidth=2.0 if few else 0.8, alpha=1.0 if few else 0.6,
                   title=f"{name}: {len(scene.labels)} digits\n{len(hits)} boxes: {hits.sum()} hits, "
                         f"{(~hits).sum()} false (red)")
        ax.title.set_fontsize(10)
    thresholds = np.union1d(np.linspace(0, 1, THRESHOLD_CURVE_STEPS), [min_score])
    curve = [recall_precision(found, t) for t in thresholds]
    at = recall_precision(found, min_score)
    curves = axes[-1]
    curves.plot(thresholds, [c["recall"] for c in curve], label="recall")
    curves.plot(thresholds, [c["precision"] if c["detections"] else np.nan for c in curve], label="precision")
    curves.axvline(min_score, color="C3", linestyle="--", label=f"score >= {min_score:.2f}")
    curves.set(xlim=(-0.02, 1.02), ylim=(0, 1.02), xlabel="score threshold", ylabel=f"over all {len(found.seconds)} scenes")
    curves.set_title("Recall and precision against the threshold", fontsize=10)
    curves.legend(loc="lower center")
    precision = f"precision {at['precision']:.3f}" if at["detections"] else "precision undefined (no box kept)"
    fig.suptitle(f"Score >= {min_score:.2f}: recall {at['recall']:.3f}, {precision} over {len(found.seconds)} scenes "
                 f"({at['digits']} digits, {at['detections']} boxes kept)")
    fig.tight_layout()
    return fig


def prepare_image(image: object, max_side: int = 1024, verbose: bool = True) -> np.ndarray:
    """Any photo as the detectors' input: float32 (H, W, 3) in [0, 1], longest side at most `max_side`.

    uint8 is scaled to [0, 1], grayscale repeated into 3 channels, RGBA composited on white, and a larger
    image resized; each conversion prints a one-line note when `verbose`.
    """
    if not isinstance(image, np.ndarray) and not hasattr(image, "__array__"):
        raise TypeError(f"expected an image array, got {type(image).__name__}")
    array = np.asarray(image)
    notes = []
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"expected numbers in the image, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or min(array.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
        notes.append("uint8 0-255 scaled to float32 0-1")
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise ValueError(f"integer images must be uint8 (0-255), got {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError(f"float images must hold values in [0, 1], got {array.min():.3g}..{array.max():.3g}")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
        notes.append("grayscale repeated into 3 channels")
    elif array.shape[2] == 4:
        alpha = array[..., 3:]
        array = array[..., :3] * alpha + (1 - alpha)
        notes.append("RGBA composited on white, alpha dropped")
    height, width = array.shape[:2]
    if max(height, width) > max_side:
        import cv2

        factor = max_side / max(height, width)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        array = cv2.resize(array, size, interpolation=cv2.INTER_AREA)
        notes.append(f"resized from {width}x{height} to {size[0]}x{size[1]} (longest side {max_side})")
    if verbose:
        for note in notes:
            print("note:", note)
    return np.ascontiguousarray(array, dtype=np.float32)


def hub_cache_dir() -> Path:
    """TF-Hub's download cache: $TFHUB_CACHE_DIR, else <tempdir>/tfhub_modules (tensorflow_hub's default)."""
    return Path(os.environ.get("TFHUB_CACHE_DIR") or Path(tempfile.gettempdir()) / "tfhub_modules")


def _lock_owner(lock: Path) -> tuple[str, int, str] | None:
    """(host, pid, task uid) from a lock's content, which tensorflow_hub writes as '<host>.<pid>.<uid>'."""
    try:
        host, pid, uid = lock.read_text(encoding="utf-8").strip().rsplit(".", 2)
        return host, int(pid), uid
    except (OSError, ValueError):
        return None


def _lock_owner_gone(owner: tuple[str, int, str] | None) -> bool:
    """True when the lock names a process on this machine that no longer runs."""
    if owner is None or owner[0] != socket.gethostname():
        return False
    try:
        os.kill(owner[1], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _last_progress(lock: Path, owner: tuple[str, int, str] | None) -> float:
    """When the lock's download last changed anything: the newest time stamp of the lock and of its temp folder.

    tensorflow_hub downloads into <module>.<uid>.tmp next to <module>.lock and judges progress by that
    folder's size; a growing file's modification time moves with it.
    """
    stamps = [lock.stat().st_mtime]
    if owner is not None:
        scratch = lock.with_name(f"{lock.stem}.{owner[2]}.tmp")
        for path in [scratch, *scratch.rglob("*")] if scratch.is_dir() else []:
            with contextlib.suppress(OSError):
                stamps.append(path.stat().st_mtime)
    return max(stamps)


def remove_stale_locks(folder: Path | None = None, max_age_s: float = LOCK_MAX_AGE_S, verbose: bool = True
                       ) -> list[Path]:
    """Delete `*.lock` files in the TF-Hub cache left by a killed download; return what was removed.

    tensorflow_hub's own rule: a lock is stale when its download made no progress (its temp folder and
    the lock unchanged) for `max_age_s` (tensorflow_hub's 600 s), and, sooner, when the process it names
    on this machine is gone. A live download's lock is kept however old. Without this clean-up,
    tensorflow_hub waits 600 s for a dead download's lock.
    """
    folder = Path(folder) if folder is not None else hub_cache_dir()
    if max_age_s <= 0:
        raise ValueError(f"max_age_s must be positive, got {max_age_s}")
    removed = []
    if not folder.is_dir():
        return removed
    for lock in sorted(folder.glob("*.lock")):
        owner = _lock_owner(lock)
        try:
            idle = time.time() - _last_progress(lock, owner)
        except OSError:
            continue
        if _lock_owner_gone(owner) or idle > max_age_s:
            lock.unlink(missing_ok=True)
            removed.append(lock)
            if verbose:
                print(f"removed stale TF-Hub lock {shown(lock)} (left by an interrupted download)")
    return removed


def default_handle() -> str:
    """The detector handle: $COURSE_DETECTOR_HANDLE, else Google's Faster R-CNN on Kaggle Models."""
    return os.environ.get(HANDLE_ENV) or FASTER_RCNN_HANDLE


def hub_advice(handle: str, advice: str, status: int | None) -> str:
    """`advice` for a failed hub download; for a Kaggle or TF-Hub handle's HTTP 403, what Kaggle's refusals mean."""
    if status == 403 and any(host in handle for host in ("kaggle.com", "tfhub.dev")):
        return KAGGLE_403_ADVICE.format(env=HANDLE_ENV)
    return advice


def load_hub_model(handle: str, timeout: float = DEFAULT_TIMEOUT_S, offline: bool | None = None):
    """`tensorflow_hub.load(handle)` under the course's policy; NotAvailableError when it cannot load.

    A local SavedModel folder loads directly. A URL loads from the TF-Hub cache if there, else is
    downloaded (unless offline) under a socket timeout, after removing stale lock files. The error's
    advice follows the failure's cause (a 403 is the server's refusal, not a missing network).
    """
    import tensorflow_hub as hub

    if not isinstance(handle, str) or not handle:
        raise ValueError(f"handle must be a URL or a SavedModel folder, got {handle!r}")
    if not handle.startswith(("http://", "https://", "gs://")):
        folder = Path(handle)
        if not (folder / "saved_model.pb").is_file():
            raise NotAvailableError(f"detector {shown(folder)}", [f"{shown(folder)}: no saved_model.pb there"])
        return hub.load(str(folder))
    cache = hub_cache_dir()
    cached = cache / hashlib.sha1(handle.encode("utf-8")).hexdigest()
    looked = [f"TF-Hub cache {shown(cached)}: not there"]
    provide = f"set {HANDLE_ENV} to a downloaded copy (a SavedModel folder)"
    if (cached / "saved_model.pb").is_file():
        remove_stale_locks(cache)
        return hub.load(handle)
    if is_offline() if offline is None else offline:
        looked.append(f"{handle}: not tried ({f'{OFFLINE_ENV}=1' if offline is None else 'offline'})")
        online = f"{GO_ONLINE if offline is None else RECONNECT}; the model is cached in {shown(cache)} " \
                 "(set TFHUB_CACHE_DIR to move it)"
        raise NotAvailableError("Faster R-CNN from TF-Hub/Kaggle Models", looked, provide, advice=[online])
    remove_stale_locks(cache)
    try:
        with socket_timeout(timeout):
            return hub.load(handle)
    except Exception as error:  # tensorflow_hub raises many types (URLError, OSError, ValueError, bare Exception)
        diagnosis = diagnose(error)
        looked.append(f"{handle}: download failed ({diagnosis.reason.splitlines()[0]})")
        raise NotAvailableError("Faster R-CNN from TF-Hub/Kaggle Models", looked, provide, failed=[looked[-1]],
                                advice=[hub_advice(handle, diagnosis.advice, diagnosis.status)]) from error
