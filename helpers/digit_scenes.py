"""Generated digit scenes and the course's own small digit detector, exported like a TF-Hub detector.

No registry ships a pretrained general object detector, so chapter 09 trains one it can run offline:
real MNIST digits pasted at random positions, scales and colours onto varied backgrounds, each with its
ground-truth box (the tight box around the digit's ink). The detector is a small CNN that classifies
28x28 windows as "digit 0".."digit 9" or background and regresses the digit's box inside the window.
Built from valid convolutions and pooling only, it runs over a whole image at once (one window every
4 pixels) on an image pyramid; non-maximum suppression keeps the best box per digit. It is exported as
a SavedModel whose `default` signature has the inputs and outputs of TF-Hub's Faster R-CNN.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .paths import artifacts_dir, shown

if TYPE_CHECKING:          # for annotations only: the functions import keras when they run
    import keras

PATCH = 28                 # the window the classifier sees, in pyramid pixels
STRIDE = 4                 # one window every STRIDE pyramid pixels (two 2x2 poolings)
BACKGROUND = 10            # class index of "no digit"
N_OUTPUTS = 11 + 4         # 11 class logits, then the box (ymin, xmin, ymax, xmax) inside the window
FRAME_RANGE = (32, 80)     # side of a digit's 28x28 MNIST frame in a scene, in pixels
LEVEL_RATIO = 1.35         # pyramid levels differ by this factor
LEVEL_SCALES = tuple(PATCH / FRAME_RANGE[0] / LEVEL_RATIO ** k for k in range(4))
GRAY = np.array([0.2989, 0.587, 0.114], np.float32)  # tf.image.rgb_to_grayscale's weights
INK = 0.3                  # a digit pixel counts as ink above this intensity (0-1)
EXPORT_VERSION = 4         # bump when the exported graph changes: the cached net is exported again


@dataclass(frozen=True)
class Scene:
    """One generated scene: float32 RGB image in [0, 1], normalized [ymin, xmin, ymax, xmax] boxes, digit labels."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class TrainingConfig:
    """What the detector's training depends on; its hash names the cache folder."""

    n_patches: int = 40000
    epochs: int = 6
    batch_size: int = 256
    learning_rate: float = 6e-3
    decay_at: float = 0.8      # after this fraction of the steps the rate drops tenfold, to settle
    seed: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        if self.n_patches < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"n_patches, epochs and batch_size must be at least 1: {self}")
        if not (self.learning_rate > 0 and 0 < self.decay_at <= 1):
            raise ValueError(f"need learning_rate > 0 and 0 < decay_at <= 1: {self}")

    def key(self) -> str:
        """A short hash of the settings, so a changed setting trains a new detector."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def _check_digits(digits: np.ndarray, labels: np.ndarray) -> None:
    """Raise ValueError unless digits are (N, 28, 28) images with N labels in 0..9."""
    digits, labels = np.asarray(digits), np.asarray(labels)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or len(digits) == 0:
        raise ValueError(f"digits must be a non-empty (N, 28, 28) array, got shape {digits.shape}")
    if labels.shape != (len(digits),) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels must be {len(digits)} integers in 0..9, got shape {labels.shape}")


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grayscale of an RGB array (last axis), with TensorFlow's weights."""
    return np.asarray(rgb, np.float32) @ GRAY


def make_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A float32 RGB background: a two-colour gradient, soft low-contrast blobs and pixel noise."""
    if height < 1 or width < 1:
        raise ValueError(f"background size must be positive, got {height}x{width}")
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * yy / max(height, 1) + np.sin(angle) * xx / max(width, 1)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    image = c1 + (c2 - c1) * ramp[..., None] * rng.uniform(0.2, 1.0)
    for _ in range(rng.integers(0, 5)):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.1, 0.4) * max(height, width)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
        image = image + rng.uniform(-0.15, 0.15, 3) * blob[..., None]
    image = image + rng.normal(0, rng.uniform(0, 0.05), (height, width, 3))
    return np.clip(image, 0, 1).astype(np.float32)


def _digit_colour(rng: np.random.Generator, behind: float) -> np.ndarray:
    """An RGB colour whose luminance differs from `behind` by at least 0.35."""
    for _ in range(20):
        colour = rng.uniform(0, 1, 3)
        if abs(float(luminance(colour)) - behind) >= 0.35:
            return colour.astype(np.float32)
    return np.full(3, 0.0 if behind > 0.5 else 1.0, np.float32)


def _alpha(digit: np.ndarray, frame: float) -> np.ndarray:
    """A 28x28 uint8 digit as ink coverage (0-1) scaled to a `frame`-pixel square."""
    import cv2

    side = max(int(round(frame)), 2)
    return cv2.resize(digit.astype(np.float32) / 255.0, (side, side),
                      interpolation=cv2.INTER_AREA if side < 28 else cv2.INTER_LINEAR)


def _blend(image: np.ndarray, alpha: np.ndarray, centre: tuple[float, float], rng: np.random.Generator
           ) -> np.ndarray | None:
    """Blend ink `alpha` centred at (y, x) into `image` (gray or RGB) in a contrasting colour; return the ink box."""
    side = alpha.shape[0]
    top, left = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    height, width = image.shape[:2]
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + side, height), min(left + side, width)
    if y0 >= y1 or x0 >= x1:
        return None
    a = alpha[y0 - top:y1 - top, x0 - left:x1 - left]
    region = image[y0:y1, x0:x1]
    if image.ndim == 3:
        a = a[..., None]
        colour = _digit_colour(rng, float(luminance(region.reshape(-1, 3).mean(0))))
    else:
        behind = float(region.mean())
        low, high = max(behind - 0.35, 0.0), min(behind + 0.35, 1.0)
        colour = rng.uniform(0, low) if rng.uniform() * (low + 1 - high) < low else rng.uniform(high, 1)
    image[y0:y1, x0:x1] = region * (1 - a) + colour * a
    ink = a if a.ndim == 2 else a[..., 0]
    rows, cols = np.nonzero(ink > INK)
    if len(rows) == 0:
        return None
    return np.array([y0 + rows.min(), x0 + cols.min(), y0 + rows.max() + 1, x0 + cols.max() + 1], np.float32)


def paste_digit(image: np.ndarray, digit: np.ndarray, frame: float, centre: tuple[float, float],
                rng: np.random.Generator) -> np.ndarray | None:
    """Paste a 28x28 uint8 digit scaled to a `frame`-pixel square at `centre` (y, x) into `image`, in place.

    Returns the pixel box [ymin, xmin, ymax, xmax] of the digit's ink inside the image (None if no ink
    landed in it); the colour is chosen to stand out from the background behind it.
    """
    return _blend(image, _alpha(digit, frame), centre, rng)


def make_scene(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, size: int = 512,
               count: tuple[int, int] = (2, 6)) -> Scene:
    """A size x size scene with `count` (min, max) real digits that do not overlap, and their ink boxes."""
    _check_digits(digits, labels)
    if size < FRAME_RANGE[1] + 8:
        raise ValueError(f"size must be at least {FRAME_RANGE[1] + 8} pixels, got {size}")
    image = make_background(rng, size, size)
    frames: list[np.ndarray] = []
    boxes, kept = [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        for _attempt in range(30):
            frame = rng.uniform(*FRAME_RANGE)
            cy, cx = rng.uniform(frame / 2, size - frame / 2, 2)
            square = np.array([cy - frame / 2 - 6, cx - frame / 2 - 6, cy + frame / 2 + 6, cx + frame / 2 + 6])
            if all(square[2] <= f[0] or f[2] <= square[0] or square[3] <= f[1] or f[3] <= square[1] for f in frames):
                break
        else:
            continue
        index = int(rng.integers(len(digits)))
        box = paste_digit(image, digits[index], frame, (cy, cx), rng)
        if box is not None:
            frames.append(square)
            boxes.append(box / size)
            kept.append(int(labels[index]))
    return Scene(image.astype(np.float32), np.array(boxes, np.float32).reshape(-1, 4), np.array(kept, np.int64))


def make_patches(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, n: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """n training windows (n, 28, 28, 1) in gray, and targets (n, 6): class, box in the window (0-1), box weight.

    Half show a digit at the window's scale (0.82-1.22) and centre (+-3 px), sometimes with a neighbour;
    the rest are background, or digits too far off centre or at the wrong scale (labelled background).
    """
    import cv2

    _check_digits(digits, labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    x = np.empty((n, PATCH, PATCH, 1), np.float32)
    y = np.zeros((n, 6), np.float32)
    canvas = 2 * PATCH
    # the model sees gray, and gray is linear in the colours: drawing in gray gives the same windows, faster
    bank = [luminance(make_background(rng, 192, 192)) for _ in range(max(4, min(64, n // 200)))]
    for i in range(n):
        zoom = rng.uniform(1.0, 2.9)          # the pyramid level's downscaling, applied after drawing
        side = int(round(canvas * zoom))
        source = bank[int(rng.integers(len(bank)))]
        top, left = rng.integers(0, 192 - side + 1, 2)
        image = source[top:top + side, left:left + side].copy()
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
        box = None
        if scale:
            frame = PATCH * scale
            box = paste_digit(image, digits[index], frame * zoom, tuple((centre + offset) * zoom), rng)
            if kind < 0.65 and rng.uniform() < 0.4:   # a neighbour just outside this digit's frame
                other = rng.uniform(0.8, 1.4) * PATCH
                gap = (frame + other) / 2 + rng.uniform(4, 16)
                shift = rng.uniform(-0.5, 0.5, 2) * other
                shift[rng.integers(2)] = rng.choice([-1, 1]) * gap
                paste_digit(image, digits[int(rng.integers(len(digits)))], other * zoom,
                            tuple((centre + offset + shift) * zoom), rng)
        small = cv2.resize(image, (canvas, canvas), interpolation=cv2.INTER_AREA)
        start = (canvas - PATCH) // 2
        x[i, ..., 0] = small[start:start + PATCH, start:start + PATCH]
        if kind < 0.5 and box is not None:
            y[i] = [labels[index], *np.clip(box / zoom - start, -4, PATCH + 4) / PATCH, 1.0]
        else:
            y[i, 0] = BACKGROUND
    return x, y


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
        if name != "window":     # the window layer's 5x5 kernel covers what is left of a 28x28 window
            x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    classes = keras.layers.Conv2D(11, 1, name="class_logits")(x)
    box = keras.layers.Conv2D(4, 1, name="box")(x)
    outputs = keras.layers.Concatenate(name="logits_and_box")([classes, box])
    return keras.Model(inputs, outputs, name="digit_window_net")


def detection_loss(y_true, y_pred):
    """Cross-entropy over 11 classes plus L1 on the box, counted only for windows that hold a digit."""
    import keras
    from keras import ops

    y_true = ops.reshape(y_true, (-1, 6))
    y_pred = ops.reshape(y_pred, (-1, N_OUTPUTS))
    cross_entropy = keras.losses.sparse_categorical_crossentropy(
        ops.cast(y_true[:, 0], "int32"), y_pred[:, :11], from_logits=True)
    box = ops.sum(ops.abs(y_true[:, 1:5] - y_pred[:, 11:]), axis=-1) * y_true[:, 5]
    return cross_entropy + 2.0 * box


def rate_schedule(config: TrainingConfig, n_windows: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate per step: `config.learning_rate`, then a tenth of it after `decay_at` of the steps."""
    import keras

    if n_windows < 1:
        raise ValueError(f"n_windows must be at least 1, got {n_windows}")
    steps = config.epochs * -(-n_windows // config.batch_size)
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [max(int(steps * config.decay_at) - 1, 0)], [config.learning_rate, config.learning_rate / 10])


def train_detector_net(x: np.ndarray, y: np.ndarray, config: TrainingConfig, callbacks: list | None = None):
    """Train the window net on patches from `make_patches`; returns (net, keras History)."""
    import keras

    if x.ndim != 4 or x.shape[1:] != (PATCH, PATCH, 1) or y.shape != (len(x), 6):
        raise ValueError(f"expected x (N, 28, 28, 1) and y (N, 6), got {x.shape} and {y.shape}")
    net = build_detector_net(config.seed)
    # XLA compiles each step as one program (on a quiet 2-core machine about 4,200 windows/s, as without it)
    net.compile(optimizer=keras.optimizers.Adam(rate_schedule(config, len(x))), loss=detection_loss,
                jit_compile=True)
    history = net.fit(x, y.reshape(-1, 1, 1, 6), batch_size=config.batch_size, epochs=config.epochs,
                      shuffle=True, verbose=0, callbacks=callbacks or [])
    return net, history


def candidates(net, image, min_score: float = 0.05):
    """Every window's digit box over the pyramid, before suppression: boxes [N,4], scores [N], classes [N], probs [N,10].

    `image` is float32 [1, H, W, 3] in [0, 1]; boxes come back normalized [ymin, xmin, ymax, xmax].
    """
    import tensorflow as tf

    image = tf.convert_to_tensor(image, tf.float32)
    gray = tf.image.rgb_to_grayscale(image)
    size = tf.cast(tf.shape(image)[1:3], tf.float32)
    all_boxes, all_scores, all_classes, all_probs = [], [], [], []
    for scale in LEVEL_SCALES:
        level_size = tf.maximum(tf.cast(tf.round(size * scale), tf.int32), PATCH)
        level = tf.image.resize(gray, level_size, method="area", antialias=True)
        out = net(level)[0]
        probs = tf.nn.softmax(out[..., :11])
        scores = tf.reduce_max(probs[..., :10], axis=-1)
        classes = tf.argmax(probs[..., :10], axis=-1)
        rows = tf.cast(tf.range(tf.shape(out)[0]) * STRIDE, tf.float32)[:, None]
        cols = tf.cast(tf.range(tf.shape(out)[1]) * STRIDE, tf.float32)[None, :]
        level_hw = tf.cast(level_size, tf.float32)
        box = out[..., 11:] * PATCH
        box = tf.concat([tf.minimum(box[..., :2], box[..., 2:]), tf.maximum(box[..., :2], box[..., 2:])], -1)
        boxes = tf.stack([(rows + box[..., 0]) / level_hw[0], (cols + box[..., 1]) / level_hw[1],
                          (rows + box[..., 2]) / level_hw[0], (cols + box[..., 3]) / level_hw[1]], axis=-1)
        keep = scores >= min_score
        all_boxes.append(tf.boolean_mask(boxes, keep))
        all_scores.append(tf.boolean_mask(scores, keep))
        all_classes.append(tf.boolean_mask(classes, keep))
        all_probs.append(tf.boolean_mask(probs[..., :10], keep))
    boxes = tf.clip_by_value(tf.concat(all_boxes, 0), 0.0, 1.0)
    return boxes, tf.concat(all_scores, 0), tf.concat(all_classes, 0), tf.concat(all_probs, 0)


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


def inside_better_box(boxes, fraction: float = 0.3):
    """For boxes sorted best first: True where `fraction` of a box's area or more lies inside a better one."""
    import tensorflow as tf

    n = tf.shape(boxes)[0]
    better = tf.range(n)[None, :] < tf.range(n)[:, None]       # column j scored higher than row i
    return tf.reduce_any((_intersections(boxes, boxes) / _areas(boxes)[:, None] >= fraction) & better, axis=1)


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


def make_detector_module(net, iou_threshold: float = 0.3, max_detections: int = 100, candidate_min_score: float = 0.01):
    """A tf.Module whose `default` function has the input and output keys of TF-Hub's Faster R-CNN.

    Like Faster R-CNN, `default` returns its `max_detections` best boxes after suppression however weak
    they are (a scene has far more non-overlapping windows than that); `candidates` returns every window
    scoring at least `candidate_min_score`, before suppression.
    """
    import tensorflow as tf

    entities = tf.constant([f"digit {d}" for d in range(10)])
    names = tf.constant([f"/course/digit_{d}" for d in range(10)])

    class DigitDetector(tf.Module):
        """The course's digit detector (not Faster R-CNN): 10 classes, 'digit 0' .. 'digit 9'."""

        def __init__(self) -> None:
            super().__init__(name="course_digit_detector")
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="images")])
        def raw_candidates(self, images):
            boxes, scores, classes, _ = candidates(self.net, images, candidate_min_score)
            return {"boxes": boxes, "scores": scores, "labels": classes + 1}

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="images")])
        def default(self, images):
            boxes, scores, _, probs = candidates(self.net, images, min_score=0.0)
            keep = tf.image.non_max_suppression(boxes, scores, 10 * max_detections, iou_threshold=iou_threshold)
            # digits never overlap here, so a box largely inside a better one is a part of the same digit
            keep = tf.boolean_mask(keep, ~inside_better_box(tf.gather(boxes, keep)))[:max_detections]
            kept = tf.gather(boxes, keep)
            classes, _ = vote(kept, boxes, scores, probs)     # the digit most windows on this box agree on
            return {"detection_boxes": kept,
                    "detection_scores": tf.gather(scores, keep),
                    "detection_class_entities": tf.gather(entities, classes),
                    "detection_class_names": tf.gather(names, classes),
                    "detection_class_labels": classes + 1}

    return DigitDetector()


def export_detector(net, folder: Path) -> Path:
    """Write the detector as a SavedModel with a `default` signature into `folder`; return the folder."""
    import tensorflow as tf

    module = make_detector_module(net)
    folder = Path(folder)
    tf.saved_model.save(module, str(folder), signatures={"default": module.default,
                                                         "candidates": module.raw_candidates})
    return folder


def evaluate(run, scenes: list[Scene], min_score: float = 0.5, iou_threshold: float = 0.5) -> dict[str, float]:
    """Recall and precision of a detector's `default` function over scenes: a hit needs the right digit at IoU >= threshold."""
    import tensorflow as tf

    from .detection import above, as_numpy, match

    if not scenes:
        raise ValueError("need at least one scene")
    hits = found = true = 0
    seconds = []
    for scene in scenes:
        start = time.perf_counter()
        result = above(as_numpy(run(images=tf.constant(scene.image[None]))), min_score)
        seconds.append(time.perf_counter() - start)
        digits = [int(label) - 1 for label in result["detection_class_labels"]]
        hits += match(result["detection_boxes"], digits, scene.boxes, scene.labels.tolist(), iou_threshold)
        found += len(digits)
        true += len(scene.labels)
    return {"recall": hits / max(true, 1), "precision": hits / max(found, 1), "true_positives": hits,
            "detections": found, "digits": true, "median_seconds": float(np.median(seconds))}


def trained_detector(digits: np.ndarray, labels: np.ndarray, config: TrainingConfig | None = None,
                     verbose: bool = True) -> tuple[Path, dict]:
    """The exported detector's folder under <artifacts>/09_digit_detector/<key>, trained once and cached.

    Returns (folder, info) where info holds the config, training seconds, final loss and whether it was cached.
    """
    config = config or TrainingConfig()
    _check_digits(digits, labels)
    folder = artifacts_dir() / "09_digit_detector" / config.key()
    info_file, net_file = folder / "training.json", folder / "window_net.keras"
    exported = folder / f"saved_model_v{EXPORT_VERSION}"
    if info_file.is_file() and net_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        if not (exported / "saved_model.pb").is_file():
            import keras

            _export_atomically(keras.models.load_model(net_file, compile=False), exported)
        if verbose:
            print(f"digit detector: cached in {shown(folder)} (trained in {info['train_seconds']:.0f} s)")
        return exported, {**info, "cached": True}
    start = time.perf_counter()
    x, y = make_patches(np.random.default_rng(config.seed), digits, labels, config.n_patches)
    patch_seconds = time.perf_counter() - start
    net, history = train_detector_net(x, y, config)
    train_seconds = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    net.save(net_file)
    _export_atomically(net, exported)
    info = {"config": asdict(config), "patch_seconds": patch_seconds, "train_seconds": train_seconds,
            "final_loss": float(history.history["loss"][-1]), "n_digits": int(len(digits))}
    info_file.write_text(json.dumps(info, indent=1), encoding="utf-8")
    if verbose:
        print(f"digit detector: trained on {config.n_patches:,} windows in {train_seconds:.0f} s, "
              f"saved to {shown(folder)}")
    return exported, {**info, "cached": False}


def _export_atomically(net, target: Path) -> None:
    """Export to a partial folder, then move it into place, so an interrupted export leaves no half model."""
    import shutil

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    export_detector(net, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
