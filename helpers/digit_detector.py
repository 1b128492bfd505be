"""The course's small digit detector: training windows, the window network, its pyramid decoding and export.

No registry ships a pretrained general object detector, so chapter 09 trains one it can run offline.
The network classifies 28x28 gray windows as "digit 0".."digit 9" or background and regresses the
digit's box inside the window (`build_detector_net`; the chapter writes its loss and training loop in
cells, `detection_loss` here is the same loss for the tests). Built from valid convolutions and pooling
only, it runs over a whole image at once (one window every 4 pixels) on an image pyramid
(`candidates`); non-maximum suppression keeps the best box per digit. `mine_hard_negatives` collects
the windows a trained net wrongly fires on, for a second round of training. `export_detector` writes
a SavedModel whose `default` signature has the inputs and outputs of TF-Hub's Faster R-CNN;
`load_cached`/`save_cached`/`exported` keep trained nets under <artifacts>/09_digit_detector.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .paths import artifacts_dir, shown
from .scenes import (BACKGROUND_KINDS, FRAME_RANGE, Scene, check_digits, gray_colour, ink_side, luminance,
                     make_background, paste_digit, placement, restyle)

if TYPE_CHECKING:          # for annotations only: the functions import keras when they run
    import keras

PATCH = 28                 # the window the classifier is trained on, in pyramid pixels
STRIDE = 4                 # one window every STRIDE pyramid pixels (two 2x2 poolings)
BACKGROUND = 10            # class index of "no digit"
N_OUTPUTS = 11 + 4         # 11 class logits, then the box (ymin, xmin, ymax, xmax) inside the window
BOX_WEIGHT = 2.0           # the box error's weight in the loss
LEVEL_RATIO = 1.35         # pyramid levels differ by this factor
LEVEL_SCALES = tuple(PATCH / FRAME_RANGE[0] / LEVEL_RATIO ** k for k in range(4))
STAGES = ("plain", "hard_negatives")
TRAINING_VERSION = 2       # bump when the training changes: cached nets of older versions are not reused
EXPORT_VERSION = 5         # bump when the exported graph changes: the cached net is exported again


@dataclass(frozen=True)
class TrainingConfig:
    """What the detector's two training stages depend on; its hash names the cache folder.

    Stage 1 ('plain') trains on `n_windows` windows of the original generator (gradient backgrounds);
    stage 2 ('hard_negatives') continues for `epochs_2` epochs on `n_windows_2` fresh windows over every
    background kind plus the windows stage 1 wrongly fires on in `mining_scenes` generated scenes.
    """

    n_windows: int = 40000
    epochs: int = 5
    batch_size: int = 256
    learning_rate: float = 6e-3
    decay_at: float = 0.8      # after this fraction of the steps the rate drops tenfold, to settle
    n_windows_2: int = 20000
    epochs_2: int = 2
    learning_rate_2: float = 1e-3
    mining_scenes: int = 60
    seed: int = 0
    version: int = TRAINING_VERSION

    def __post_init__(self) -> None:
        counts = (self.n_windows, self.epochs, self.batch_size, self.n_windows_2, self.epochs_2)
        if min(counts) < 1 or self.mining_scenes < 0:
            raise ValueError(f"window counts, epochs and batch_size must be at least 1, mining_scenes at least 0: {self}")
        if not (self.learning_rate > 0 and self.learning_rate_2 > 0 and 0 < self.decay_at <= 1):
            raise ValueError(f"need learning rates > 0 and 0 < decay_at <= 1: {self}")

    def key(self) -> str:
        """A short hash of the settings, so a changed setting trains a new detector."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


class _Recorder:
    """Draws from a Generator as it would be drawn, and keeps every draw on a tape (uniforms as their raw [0, 1) value)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.tape = rng, []

    def uniform(self, low: float = 0.0, high: float = 1.0, size: int | None = None):
        raw = self.rng.random(size)           # the draw numpy's uniform makes, before scaling: low + (high - low) * raw
        self.tape.append(raw if size is None else raw.tolist())
        return low + (high - low) * raw

    def integers(self, *args):
        value = self.rng.integers(*args)
        self.tape.append(value.tolist())
        return value

    def choice(self, options):
        value = self.rng.choice(options)
        self.tape.append(value.item())
        return value


class _Replay:
    """Gives back a _Recorder's tape, draw by draw, in place of a Generator."""

    def __init__(self, tape: list) -> None:
        self.values = iter(tape)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: int | None = None):
        raw = next(self.values)
        return low + (high - low) * (raw if size is None else np.array(raw))

    def integers(self, *args):
        value = next(self.values)
        return np.array(value) if isinstance(value, list) else value

    def choice(self, options):
        return next(self.values)


def _one_window(rng, bank: list[np.ndarray], digits: np.ndarray, labels: np.ndarray, restyled: float,
                render: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One training window and its target; with render=False only its random draws are made (None, None)."""
    import cv2

    canvas = 2 * PATCH
    zoom = rng.uniform(1.0, 2.9)          # the pyramid level's downscaling, applied after drawing
    side = int(round(canvas * zoom))
    source = bank[int(rng.integers(len(bank)))]
    top, left = rng.integers(0, source.shape[0] - side + 1, 2)
    image = source[top:top + side, left:left + side].copy() if render else None
    kind = rng.uniform()
    index = int(rng.integers(len(digits)))
    centre = canvas / 2
    if kind < 0.5:                          # a digit this window should report
        scale, offset = rng.uniform(0.82, 1.22), rng.uniform(-3, 3, 2)
    elif kind < 0.65:                       # a digit too far off centre
        scale = rng.uniform(0.6, 1.6)
        offset = rng.uniform(-20, 20, 2)
        offset[rng.integers(2)] = rng.choice([-1, 1]) * rng.uniform(8, 20)
    elif kind < 0.8:                        # a digit at the wrong scale
        scale = rng.choice([rng.uniform(0.3, 0.58), rng.uniform(1.7, 2.6)])
        offset = rng.uniform(-4, 4, 2)
    else:                                   # background only
        scale, offset = 0.0, np.zeros(2)

    def paste(digit, frame, at):
        if render:
            return paste_digit(image, digit, frame, at, rng)
        if placement(ink_side(frame), at, side, side) is not None:
            gray_colour(rng, 0.5)             # the two draws pasting makes, whatever the colour behind
        return None

    box = None
    if scale:
        frame = PATCH * scale
        digit = restyle(digits[index], rng) if restyled and rng.uniform() < restyled else digits[index]
        box = paste(digit, frame * zoom, tuple((centre + offset) * zoom))
        if kind < 0.65 and rng.uniform() < 0.4:   # a neighbour just outside this digit's frame
            other = rng.uniform(0.8, 1.4) * PATCH
            gap = (frame + other) / 2 + rng.uniform(4, 16)
            shift = rng.uniform(-0.5, 0.5, 2) * other
            shift[rng.integers(2)] = rng.choice([-1, 1]) * gap
            paste(digits[int(rng.integers(len(digits)))], other * zoom, tuple((centre + offset + shift) * zoom))
    if not render:
        return None, None
    small = cv2.resize(image, (canvas, canvas), interpolation=cv2.INTER_AREA)
    start = (canvas - PATCH) // 2
    target = np.zeros(6, np.float32)
    if kind < 0.5 and box is not None:
        target[:] = [labels[index], *np.clip(box / zoom - start, -4, PATCH + 4) / PATCH, 1.0]
    else:
        target[0] = BACKGROUND
    return small[start:start + PATCH, start:start + PATCH], target


_RENDERING: dict = {}       # a rendering worker's bank, digits, labels and restyled fraction


def _start_renderer(bank: list[np.ndarray], digits: np.ndarray, labels: np.ndarray, restyled: float) -> None:
    """Keep what every window of a rendering worker needs, sent once per worker."""
    _RENDERING.update(bank=bank, digits=digits, labels=labels, restyled=restyled)


def _render(tapes: list[list]) -> tuple[np.ndarray, np.ndarray]:
    """Render windows from their tapes with the worker's bank and digits: (k, 28, 28, 1) and targets (k, 6)."""
    made = [_one_window(_Replay(tape), _RENDERING["bank"], _RENDERING["digits"], _RENDERING["labels"],
                        _RENDERING["restyled"]) for tape in tapes]
    return (np.array([window for window, _ in made], np.float32)[..., None],
            np.array([target for _, target in made], np.float32))


PARALLEL_FROM = 4000       # fewer windows are rendered in this process: starting workers costs about a second


def make_windows(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, n: int,
                 backgrounds: tuple[str, ...] = ("gradient",), restyled: float = 0.0,
                 workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n training windows (n, 28, 28, 1) in gray, and targets (n, 6): class, box in the window (0-1), box weight.

    Half show a digit at the window's scale (0.82-1.22) and centre (+-3 px), sometimes with a neighbour;
    the rest are background, or digits too far off centre or at the wrong scale (labelled background).
    Backgrounds are cut from a bank of generated backgrounds of the kinds in `backgrounds`; a fraction
    `restyled` of the digits is drawn in another hand first (`scenes.restyle`).

    Every window's random numbers are drawn first, in order, from `rng`; the windows are then rendered
    from them on `workers` processes (default: one per core from PARALLEL_FROM windows on, else one).
    The windows depend on `rng` alone, not on the number of workers.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    check_digits(digits, labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= restyled <= 1:
        raise ValueError(f"restyled must be a fraction in [0, 1], got {restyled}")
    if not backgrounds or any(kind not in BACKGROUND_KINDS for kind in backgrounds):
        raise ValueError(f"backgrounds must be kinds among {BACKGROUND_KINDS}, got {backgrounds}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    digits, labels = np.asarray(digits), np.asarray(labels)
    # the model sees gray, and gray is linear in the colours: drawing in gray gives the same windows, faster
    bank = [luminance(make_background(rng, 192, 192, backgrounds[k % len(backgrounds)]))
            for k in range(max(4, min(64, n // 200), len(backgrounds)))]

    def tapes(size: int = 1000):
        """Every window's draws, in order, a chunk of `size` windows at a time."""
        for first in range(0, n, size):
            chunk = []
            for _ in range(min(size, n - first)):
                recorder = _Recorder(rng)
                _one_window(recorder, bank, digits, labels, restyled, render=False)
                chunk.append(recorder.tape)
            yield chunk

    workers = workers or ((os.cpu_count() or 1) if n >= PARALLEL_FROM else 1)
    if workers == 1:
        _start_renderer(bank, digits, labels, restyled)
        parts = [_render(chunk) for chunk in tapes()]
    else:
        # spawn, not fork: a forked TensorFlow process can hang; chunks are rendered while later ones are drawn
        with ProcessPoolExecutor(workers, get_context("spawn"), initializer=_start_renderer,
                                 initargs=(bank, digits, labels, restyled)) as pool:
            parts = [future.result() for future in [pool.submit(_render, chunk) for chunk in tapes()]]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def background_targets(n: int) -> np.ndarray:
    """Targets (n, 6) that say "background, no box" for n windows."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    y = np.zeros((n, 6), np.float32)
    y[:, 0] = BACKGROUND
    return y


def build_detector_net(seed: int = 0):
    """The fully convolutional window classifier: (H, W, 1) gray -> (H', W', 15), one window per 4 pixels."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(None, None, 1), name="gray")
    x = inputs
    for name, filters, size in (("conv1", 8, 3), ("conv2", 24, 3), ("window", 48, 5)):
        x = keras.layers.Conv2D(filters, size, use_bias=False, name=name)(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        if name != "window":     # the window layer's 5x5 kernel covers what is left of the window
            x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    classes = keras.layers.Conv2D(11, 1, name="class_logits")(x)
    box = keras.layers.Conv2D(4, 1, name="box")(x)
    outputs = keras.layers.Concatenate(name="logits_and_box")([classes, box])
    return keras.Model(inputs, outputs, name="digit_window_net")


def class_loss(y_true, y_pred):
    """Cross-entropy of the 11 class logits (10 digits and background) against the window's class."""
    import keras
    from keras import ops

    y_true, y_pred = ops.reshape(y_true, (-1, 6)), ops.reshape(y_pred, (-1, N_OUTPUTS))
    return keras.losses.sparse_categorical_crossentropy(ops.cast(y_true[:, 0], "int32"), y_pred[:, :11],
                                                        from_logits=True)


def box_loss(y_true, y_pred):
    """L1 error of the box (ymin, xmin, ymax, xmax in window units), counted only for windows that hold a digit."""
    from keras import ops

    y_true, y_pred = ops.reshape(y_true, (-1, 6)), ops.reshape(y_pred, (-1, N_OUTPUTS))
    return ops.sum(ops.abs(y_true[:, 1:5] - y_pred[:, 11:]), axis=-1) * y_true[:, 5]


def detection_loss(y_true, y_pred):
    """The detector's two-part loss: class cross-entropy plus BOX_WEIGHT times the box's L1 error."""
    return class_loss(y_true, y_pred) + BOX_WEIGHT * box_loss(y_true, y_pred)


def rate_schedule(config: TrainingConfig, n_windows: int, stage: str = "plain"
                  ) -> keras.optimizers.schedules.LearningRateSchedule:
    """The stage's learning rate per step: its starting rate, then a tenth of it after `decay_at` of the steps."""
    import keras

    if n_windows < 1:
        raise ValueError(f"n_windows must be at least 1, got {n_windows}")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    epochs, rate = (config.epochs, config.learning_rate) if stage == "plain" else (config.epochs_2, config.learning_rate_2)
    steps = epochs * -(-n_windows // config.batch_size)
    return keras.optimizers.schedules.PiecewiseConstantDecay([max(int(steps * config.decay_at) - 1, 0)],
                                                             [rate, rate / 10])


def pyramid(image) -> list:
    """The detector's image pyramid: [(level float32 [1, h, w, 1] gray, its (h, w))], from `image` [1, H, W, 3] in [0, 1]."""
    import tensorflow as tf

    gray = tf.image.rgb_to_grayscale(tf.convert_to_tensor(image, tf.float32))
    size = tf.cast(tf.shape(gray)[1:3], tf.float32)
    levels = []
    for scale in LEVEL_SCALES:
        level_size = tf.maximum(tf.cast(tf.round(size * scale), tf.int32), PATCH)
        levels.append((tf.image.resize(gray, level_size, method="area", antialias=True), level_size))
    return levels


def window_boxes(out, level_size):
    """Each window's digit box from the net's output on one level, normalized to the image: [h', w', 4]."""
    import tensorflow as tf

    rows = tf.cast(tf.range(tf.shape(out)[0]) * STRIDE, tf.float32)[:, None]
    cols = tf.cast(tf.range(tf.shape(out)[1]) * STRIDE, tf.float32)[None, :]
    level_hw = tf.cast(level_size, tf.float32)
    box = out[..., 11:] * PATCH
    box = tf.concat([tf.minimum(box[..., :2], box[..., 2:]), tf.maximum(box[..., :2], box[..., 2:])], -1)
    return tf.stack([(rows + box[..., 0]) / level_hw[0], (cols + box[..., 1]) / level_hw[1],
                     (rows + box[..., 2]) / level_hw[0], (cols + box[..., 3]) / level_hw[1]], axis=-1)


def candidates(net, image, min_score: float = 0.05):
    """Every window's digit box over the pyramid, before suppression: boxes [N,4], scores [N], classes [N], probs [N,10].

    `image` is float32 [1, H, W, 3] in [0, 1]; boxes come back normalized [ymin, xmin, ymax, xmax].
    """
    import tensorflow as tf

    all_boxes, all_scores, all_classes, all_probs = [], [], [], []
    for level, level_size in pyramid(image):
        out = net(level)[0]
        probs = tf.nn.softmax(out[..., :11])
        scores = tf.reduce_max(probs[..., :10], axis=-1)
        keep = scores >= min_score
        all_boxes.append(tf.boolean_mask(window_boxes(out, level_size), keep))
        all_scores.append(tf.boolean_mask(scores, keep))
        all_classes.append(tf.boolean_mask(tf.argmax(probs[..., :10], axis=-1), keep))
        all_probs.append(tf.boolean_mask(probs[..., :10], keep))
    boxes = tf.clip_by_value(tf.concat(all_boxes, 0), 0.0, 1.0)
    return boxes, tf.concat(all_scores, 0), tf.concat(all_classes, 0), tf.concat(all_probs, 0)


def mine_hard_negatives(net, scenes: list[Scene], min_score: float = 0.5, per_scene: int = 40
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hard negatives: the pyramid windows where `net` reports a digit with score >= `min_score` although the
    window touches no digit's ink box; at most `per_scene` per scene, the highest-scoring.

    Returns the windows (n, 28, 28, 1), the digit the net saw in each and its score.
    """
    import tensorflow as tf

    if not 0 <= min_score <= 1 or per_scene < 1:
        raise ValueError(f"need min_score in [0, 1] and per_scene >= 1, got {min_score} and {per_scene}")
    @tf.function(reduce_retracing=True)        # compiled once per image size: eager calls took twice as long
    def levels_and_probs(image):
        return [(level, tf.nn.softmax(net(level, training=False)[0][..., :11])[..., :10], level_size)
                for level, level_size in pyramid(image)]

    found = []
    for scene in scenes:
        truth = np.asarray(scene.boxes, np.float64).reshape(-1, 4)
        picked = []
        for level, probs, level_size in levels_and_probs(tf.constant(scene.image[None])):
            probs = probs.numpy()
            scores = probs.max(axis=-1)
            h, w = (int(v) for v in level_size)
            rows, cols = np.nonzero(scores >= min_score)
            top, left = rows * STRIDE, cols * STRIDE
            windows = np.stack([top / h, left / w, (top + PATCH) / h, (left + PATCH) / w], axis=1)
            touches = ((windows[:, None, 0] < truth[None, :, 2]) & (truth[None, :, 0] < windows[:, None, 2]) &
                       (windows[:, None, 1] < truth[None, :, 3]) & (truth[None, :, 1] < windows[:, None, 3])).any(axis=1)
            gray = level[0].numpy()
            for r, c, t, l in zip(rows[~touches], cols[~touches], top[~touches], left[~touches]):
                picked.append((scores[r, c], int(probs[r, c].argmax()), gray[t:t + PATCH, l:l + PATCH]))
        picked.sort(key=lambda item: -item[0])
        found.extend(picked[:per_scene])
    windows = np.array([item[2] for item in found], np.float32).reshape(-1, PATCH, PATCH, 1)
    return windows, np.array([item[1] for item in found], np.int64), np.array([item[0] for item in found], np.float32)


def _intersections(a, b):
    """Pairwise intersection areas of [ymin, xmin, ymax, xmax] boxes: (len(a), len(b))."""
    import tensorflow as tf

    top = tf.maximum(a[:, None, 0], b[None, :, 0])
    left = tf.maximum(a[:, None, 1], b[None, :, 1])
    bottom = tf.minimum(a[:, None, 2], b[None, :, 2])
    right = tf.minimum(a[:, None, 3], b[None, :, 3])
    return tf.maximum(bottom - top, 0.0) * tf.maximum(right - left, 0.0)


def _areas(boxes):
    """Areas of [ymin, xmin, ymax, xmax] boxes, at least a tiny positive number."""
    import tensorflow as tf

    return tf.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-12)


def nested_with_better_box(boxes, fraction: float = 0.3):
    """For boxes sorted best first: True where a box and a better one share `fraction` or more of the smaller one's
    area (a part inside a better box, or a box around a better one)."""
    import tensorflow as tf

    n = tf.shape(boxes)[0]
    better = tf.range(n)[None, :] < tf.range(n)[:, None]       # column j scored higher than row i
    areas = _areas(boxes)
    smaller = tf.minimum(areas[:, None], areas[None, :])
    return tf.reduce_any((_intersections(boxes, boxes) / smaller >= fraction) & better, axis=1)


def vote(kept_boxes, boxes, scores, probs, iou_threshold: float = 0.5):
    """Box voting: each kept box takes the digit with the most score-weighted probability among the
    candidates overlapping it (IoU >= threshold); returns (classes, agreement 0-1)."""
    import tensorflow as tf

    inter = _intersections(kept_boxes, boxes)
    union = _areas(kept_boxes)[:, None] + _areas(boxes)[None, :] - inter
    near = tf.cast(inter / union >= iou_threshold, tf.float32)
    votes = tf.matmul(near, probs * scores[:, None])
    classes = tf.argmax(votes, axis=-1)
    agreement = tf.reduce_max(votes, axis=-1) / tf.maximum(tf.reduce_sum(votes, axis=-1), 1e-12)
    return classes, agreement


def make_detector_module(net, iou_threshold: float = 0.3, max_detections: int = 100,
                         candidate_min_score: float = 0.01):
    """A tf.Module whose `default` function has the input and output keys of TF-Hub's Faster R-CNN.

    Like Faster R-CNN, `default` returns its `max_detections` best boxes after suppression however weak
    they are (a scene has far more non-overlapping windows than that); `raw_candidates` returns every
    window scoring at least `candidate_min_score`, before suppression.
    """
    import tensorflow as tf

    entities = tf.constant([f"digit {d}" for d in range(10)])
    names = tf.constant([f"/course/digit_{d}" for d in range(10)])
    image_spec = tf.TensorSpec([1, None, None, 3], tf.float32, name="images")

    class DigitDetector(tf.Module):
        """The course's digit detector (not Faster R-CNN): 10 classes, 'digit 0' .. 'digit 9'."""

        def __init__(self) -> None:
            super().__init__(name="course_digit_detector")
            self.net = net

        @tf.function(input_signature=[image_spec], autograph=False)      # plain Python loops: nothing to convert
        def raw_candidates(self, images):
            boxes, scores, classes, _ = candidates(self.net, images, candidate_min_score)
            return {"boxes": boxes, "scores": scores, "labels": classes + 1}

        @tf.function(input_signature=[image_spec], autograph=False)
        def default(self, images):
            boxes, scores, _, probs = candidates(self.net, images, min_score=0.0)
            keep = tf.image.non_max_suppression(boxes, scores, 10 * max_detections, iou_threshold=iou_threshold)
            # digits never overlap here, so a box nested with a better one (a part of it, or a box around it)
            # is the same digit again
            keep = tf.boolean_mask(keep, ~nested_with_better_box(tf.gather(boxes, keep)))[:max_detections]
            kept = tf.gather(boxes, keep)
            classes, _ = vote(kept, boxes, scores, probs)     # the digit most windows on this box agree on
            return {"detection_boxes": kept,
                    "detection_scores": tf.gather(scores, keep),
                    "detection_class_entities": tf.gather(entities, classes),
                    "detection_class_names": tf.gather(names, classes),
                    "detection_class_labels": classes + 1}

    return DigitDetector()


def export_detector(net, folder: Path) -> Path:
    """Write the detector as a SavedModel with `default` and `candidates` signatures into `folder`; return it."""
    import tensorflow as tf

    module = make_detector_module(net)
    folder = Path(folder)
    tf.saved_model.save(module, str(folder), signatures={"default": module.default,
                                                         "candidates": module.raw_candidates})
    return folder


def _export_atomically(net, target: Path) -> None:
    """Export to a partial folder, then move it into place, so an interrupted export leaves no half model."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    export_detector(net, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)


def cache_folder(config: TrainingConfig) -> Path:
    """Where the nets trained with `config` are kept: <artifacts>/09_digit_detector/<config.key()>."""
    return artifacts_dir() / "09_digit_detector" / config.key()


def _check_stage(stage: str) -> None:
    """Raise ValueError unless `stage` is one of STAGES."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")


def load_cached(config: TrainingConfig, stage: str = "plain", verbose: bool = True):
    """(net, info) of a stage trained before with `config`, or None if there is none yet."""
    import keras

    _check_stage(stage)
    folder = cache_folder(config)
    net_file, info_file = folder / f"{stage}.keras", folder / f"{stage}.json"
    if not (net_file.is_file() and info_file.is_file()):
        return None
    info = json.loads(info_file.read_text(encoding="utf-8"))
    if verbose:
        print(f"{stage}: loaded from {shown(net_file)} (trained in {info['train_seconds']:.0f} s on a first run)")
    return keras.models.load_model(net_file, compile=False), {**info, "cached": True}


def save_cached(config: TrainingConfig, stage: str, net, history: dict, seconds: float, **extra: float):
    """Keep a trained stage (the net, its per-epoch history, seconds and `extra` numbers); return (net, info)."""
    _check_stage(stage)
    if not history or not all(isinstance(values, list) for values in history.values()):
        raise ValueError("history must be a Keras History.history: a dict of per-epoch lists")
    folder = cache_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    info = {"config": asdict(config), "stage": stage, "train_seconds": float(seconds),
            "history": {name: [float(v) for v in values] for name, values in history.items()}, **extra}
    partial = folder / f"{stage}.partial.keras"
    net.save(partial)
    partial.replace(folder / f"{stage}.keras")
    (folder / f"{stage}.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return net, {**info, "cached": False}


def exported(config: TrainingConfig, net, stage: str = "hard_negatives") -> Path:
    """The SavedModel folder of a trained stage, exported once (again when EXPORT_VERSION changes)."""
    _check_stage(stage)
    target = cache_folder(config) / f"{stage}_saved_model_v{EXPORT_VERSION}"
    if not (target / "saved_model.pb").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _export_atomically(net, target)
    return target


@dataclass(frozen=True)
class Detections:
    """Every detection a detector returned on a set of scenes: its score and whether it hit a true digit."""

    scores: np.ndarray        # float, one per detection
    hits: np.ndarray          # bool: right digit at IoU >= threshold with a true box not matched by a better one
    scene: np.ndarray         # int: the index of the scene each detection was made in
    digits: int               # true digits in the scenes
    seconds: np.ndarray       # seconds per scene


def detect_all(run, scenes: list[Scene], iou_threshold: float = 0.5) -> Detections:
    """Run a detector's `default` function on every scene and match its detections (best first) to the truth."""
    import tensorflow as tf

    from .detection import as_numpy, match_flags

    if not scenes:
        raise ValueError("need at least one scene")
    scores, hits, seconds, digits, where = [], [], [], 0, []
    for index, scene in enumerate(scenes):
        start = time.perf_counter()
        result = as_numpy(run(images=tf.constant(scene.image[None])))
        seconds.append(time.perf_counter() - start)
        labels = [int(label) - 1 for label in result["detection_class_labels"]]
        hits.append(match_flags(result["detection_boxes"], labels, scene.boxes, scene.labels.tolist(), iou_threshold))
        scores.append(result["detection_scores"])
        where.append(np.full(len(labels), index))
        digits += len(scene.labels)
    return Detections(np.concatenate(scores).astype(np.float64), np.concatenate(hits), np.concatenate(where),
                      digits, np.array(seconds))


def most_false(found: Detections, min_score: float) -> int:
    """The index of the scene with the most false detections scoring at least `min_score` (the first, on a tie)."""
    if not 0 <= min_score <= 1:
        raise ValueError(f"min_score must be in [0, 1], got {min_score}")
    wrong = found.scene[(found.scores >= min_score) & ~found.hits]
    return int(np.bincount(wrong, minlength=int(found.scene.max(initial=0)) + 1).argmax())


def recall_precision(found: Detections, min_score: float) -> dict[str, float]:
    """Recall and precision of the detections scoring at least `min_score`, with the counts behind them."""
    if not 0 <= min_score <= 1:
        raise ValueError(f"min_score must be in [0, 1], got {min_score}")
    kept = found.scores >= min_score
    hits, detections = int(found.hits[kept].sum()), int(kept.sum())
    return {"recall": hits / max(found.digits, 1), "precision": hits / max(detections, 1), "true_positives": hits,
            "false_positives": detections - hits, "detections": detections, "digits": found.digits,
            "median_seconds": float(np.median(found.seconds))}


def evaluate(run, scenes: list[Scene], min_score: float = 0.5, iou_threshold: float = 0.5) -> dict[str, float]:
    """Recall and precision of a detector's `default` function over scenes: a hit needs the right digit at IoU >= threshold."""
    return recall_precision(detect_all(run, scenes, iou_threshold), min_score)
