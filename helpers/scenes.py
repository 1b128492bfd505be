"""Generated digit scenes with known boxes: the training generator's scenes and scenes made another way.

`make_scene` is the generator chapter 09's detector is trained on: real MNIST digits pasted at random
positions and scales, each in a colour that stands out, on backgrounds with gradients, soft blobs and
pixel noise (or, on request, plain colours and strong Gaussian noise). `make_white_digit_scene` builds
scenes by another recipe, to test the detector on data it was not made from: white digits as MNIST
stores them, on black or on uniform noise. `printed_digits` renders digits in OpenCV's Hershey fonts,
a handwriting-free digit style, framed like MNIST. Every scene comes with its ground-truth boxes: the
tight box around each digit's ink (pixels whose ink coverage is above `INK`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FRAME_RANGE = (32, 80)     # side of a digit's 28x28 MNIST frame in a generated scene, in pixels
GRAY = np.array([0.2989, 0.587, 0.114], np.float32)  # tf.image.rgb_to_grayscale's weights
INK = 0.3                  # a digit pixel counts as ink above this coverage (0-1)
BACKGROUND_KINDS = ("gradient", "plain", "noise")
GAP = 6                    # pixels kept free around every digit's frame


@dataclass(frozen=True)
class Scene:
    """One scene: float32 RGB image in [0, 1], normalized [ymin, xmin, ymax, xmax] ink boxes, digit labels."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def check_digits(digits: np.ndarray, labels: np.ndarray) -> None:
    """Raise ValueError unless digits are (N, 28, 28) images with N labels in 0..9."""
    digits, labels = np.asarray(digits), np.asarray(labels)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28) or len(digits) == 0:
        raise ValueError(f"digits must be a non-empty (N, 28, 28) array, got shape {digits.shape}")
    if labels.shape != (len(digits),) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels must be {len(digits)} integers in 0..9, got shape {labels.shape}")


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Grayscale of an RGB array (last axis), with TensorFlow's weights."""
    return np.asarray(rgb, np.float32) @ GRAY


def make_background(rng: np.random.Generator, height: int, width: int, kind: str = "gradient") -> np.ndarray:
    """A float32 RGB background of one kind: 'gradient' (two colours, soft blobs, faint noise), 'plain' or 'noise'.

    'plain' is one colour with at most faint noise; 'noise' is one colour plus strong Gaussian pixel
    noise (standard deviation 0.03-0.15, per channel or gray alike).
    """
    if height < 1 or width < 1:
        raise ValueError(f"background size must be positive, got {height}x{width}")
    if kind not in BACKGROUND_KINDS:
        raise ValueError(f"kind must be one of {BACKGROUND_KINDS}, got {kind!r}")
    if kind == "plain":
        image = rng.uniform(0, 1, 3) + rng.normal(0, rng.uniform(0, 0.02), (height, width, 3))
        return np.clip(image, 0, 1).astype(np.float32)
    if kind == "noise":
        sigma = rng.uniform(0.03, 0.15)
        shape = (height, width, 3) if rng.uniform() < 0.5 else (height, width, 1)
        return np.clip(rng.uniform(0.1, 0.9, 3) + rng.normal(0, sigma, shape), 0, 1).astype(np.float32)
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


def ink_side(frame: float) -> int:
    """The side in pixels of a digit scaled to a `frame`-pixel square (at least 2)."""
    return max(int(round(frame)), 2)


def ink_coverage(digit: np.ndarray, frame: float) -> np.ndarray:
    """A 28x28 uint8 digit as ink coverage (0-1), scaled to a `frame`-pixel square."""
    import cv2

    side = ink_side(frame)
    return cv2.resize(np.asarray(digit).astype(np.float32) / 255.0, (side, side),
                      interpolation=cv2.INTER_AREA if side < 28 else cv2.INTER_LINEAR)


def placement(side: int, centre: tuple[float, float], height: int, width: int
              ) -> tuple[int, int, int, int, int, int] | None:
    """Where a side x side square centred at (y, x) lands in a height x width image: its top, left and the
    visible part (y0, x0, y1, x1); None if no pixel of it lands in the image."""
    top, left = int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2))
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + side, height), min(left + side, width)
    return None if y0 >= y1 or x0 >= x1 else (top, left, y0, x0, y1, x1)


def gray_colour(rng: np.random.Generator, behind: float) -> float:
    """A gray level that differs from `behind` by at least 0.35: darker or lighter, in proportion to the room on each side.

    It always draws two numbers from `rng`, whatever `behind` is.
    """
    low, high = max(behind - 0.35, 0.0), min(behind + 0.35, 1.0)
    return rng.uniform(0, low) if rng.uniform() * (low + 1 - high) < low else rng.uniform(high, 1)


def _blend(image: np.ndarray, alpha: np.ndarray, centre: tuple[float, float], rng: np.random.Generator,
           colour: np.ndarray | float | None = None) -> np.ndarray | None:
    """Blend ink `alpha` centred at (y, x) into `image` (gray or RGB), in `colour` or a contrasting one; return the ink box."""
    side = alpha.shape[0]
    place = placement(side, centre, image.shape[0], image.shape[1])
    if place is None:
        return None
    top, left, y0, x0, y1, x1 = place
    a = alpha[y0 - top:y1 - top, x0 - left:x1 - left]
    region = image[y0:y1, x0:x1]
    if image.ndim == 3:
        a = a[..., None]
        if colour is None:
            colour = _digit_colour(rng, float(luminance(region.reshape(-1, 3).mean(0))))
    elif colour is None:
        colour = gray_colour(rng, float(region.mean()))
    image[y0:y1, x0:x1] = region * (1 - a) + colour * a
    ink = a if a.ndim == 2 else a[..., 0]
    rows, cols = np.nonzero(ink > INK)
    if len(rows) == 0:
        return None
    return np.array([y0 + rows.min(), x0 + cols.min(), y0 + rows.max() + 1, x0 + cols.max() + 1], np.float32)


def restyle(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 uint8 digit in another hand: rotated (up to 12 degrees), slanted, and with thinner or thicker strokes."""
    import cv2

    digit = np.asarray(digit, np.uint8)
    if digit.shape != (28, 28):
        raise ValueError(f"digit must be a 28x28 array, got shape {digit.shape}")
    turn = cv2.getRotationMatrix2D((13.5, 13.5), rng.uniform(-12, 12), 1.0)
    slant = rng.uniform(-0.25, 0.25)
    turn[0, 1] += slant
    turn[0, 2] -= slant * 13.5
    styled = cv2.warpAffine(digit, turn, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
    stroke = rng.integers(3)
    if stroke == 1:
        styled = cv2.dilate(styled, np.ones((2, 2), np.uint8))
    elif stroke == 2:
        styled = cv2.erode(styled, np.ones((2, 2), np.uint8))
    return styled if styled.max() > 0 else digit


def paste_digit(image: np.ndarray, digit: np.ndarray, frame: float, centre: tuple[float, float],
                rng: np.random.Generator, colour: np.ndarray | float | None = None) -> np.ndarray | None:
    """Paste a 28x28 uint8 digit scaled to a `frame`-pixel square at `centre` (y, x) into `image`, in place.

    Returns the pixel box [ymin, xmin, ymax, xmax] of the digit's ink inside the image (None if no ink
    landed in it). Without a `colour`, the colour is chosen to stand out from the background behind it.
    """
    return _blend(image, ink_coverage(digit, frame), centre, rng, colour)


def _free_spot(rng: np.random.Generator, size: int, frame_range: tuple[float, float], taken: list[np.ndarray]
               ) -> tuple[float, float, float, np.ndarray] | None:
    """A frame side and centre (y, x) whose square, with a GAP margin, overlaps no square in `taken`."""
    for _attempt in range(30):
        frame = rng.uniform(*frame_range)
        cy, cx = rng.uniform(frame / 2, size - frame / 2, 2)
        square = np.array([cy - frame / 2 - GAP, cx - frame / 2 - GAP, cy + frame / 2 + GAP, cx + frame / 2 + GAP])
        if all(square[2] <= f[0] or f[2] <= square[0] or square[3] <= f[1] or f[3] <= square[1] for f in taken):
            return frame, cy, cx, square
    return None


def _check_count(count: tuple[int, int]) -> None:
    """Raise ValueError unless count is (min, max) with 0 <= min <= max."""
    if len(count) != 2 or not 0 <= count[0] <= count[1]:
        raise ValueError(f"count must be (min, max) with 0 <= min <= max, got {count}")


def make_scene(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, size: int = 512,
               count: tuple[int, int] = (2, 6), backgrounds: Sequence[str] = ("gradient",)) -> Scene:
    """A size x size scene of the training generator: `count` (min, max) digits that do not overlap, and their ink boxes.

    The background kind is drawn from `backgrounds` (see `make_background`); each digit gets a colour
    that stands out from what lies behind it.
    """
    check_digits(digits, labels)
    _check_count(count)
    if size < FRAME_RANGE[1] + 2 * GAP:
        raise ValueError(f"size must be at least {FRAME_RANGE[1] + 2 * GAP} pixels, got {size}")
    if not backgrounds:
        raise ValueError("backgrounds must name at least one kind")
    kind = backgrounds[0] if len(backgrounds) == 1 else backgrounds[int(rng.integers(len(backgrounds)))]
    image = make_background(rng, size, size, kind)
    taken: list[np.ndarray] = []
    boxes, kept = [], []
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        spot = _free_spot(rng, size, FRAME_RANGE, taken)
        if spot is None:
            continue
        frame, cy, cx, square = spot
        index = int(rng.integers(len(digits)))
        box = paste_digit(image, digits[index], frame, (cy, cx), rng)
        if box is not None:
            taken.append(square)
            boxes.append(box / size)
            kept.append(int(labels[index]))
    return Scene(image.astype(np.float32), np.array(boxes, np.float32).reshape(-1, 4), np.array(kept, np.int64))


def make_white_digit_scene(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray,
                           background: str = "black", size: int = 512, count: int = 5,
                           frame_range: tuple[float, float] = (40, 80), noise_max: float = 0.3) -> Scene:
    """A scene made another way than `make_scene`: white digits, as MNIST stores them, on black or uniform noise.

    `background` is 'black' (zeros) or 'noise' (gray uniform noise in [0, noise_max]); `count` digits whose
    28x28 frames are `frame_range` pixels wide do not overlap. The image is gray, repeated into RGB.
    """
    check_digits(digits, labels)
    if background not in ("black", "noise"):
        raise ValueError(f"background must be 'black' or 'noise', got {background!r}")
    if not (0 < frame_range[0] <= frame_range[1] and size >= frame_range[1] + 2 * GAP):
        raise ValueError(f"need 0 < frame_range[0] <= frame_range[1] <= size - {2 * GAP}, got {frame_range}, size {size}")
    if count < 0 or not 0 <= noise_max <= 1:
        raise ValueError(f"need count >= 0 and noise_max in [0, 1], got {count} and {noise_max}")
    gray = np.zeros((size, size), np.float32)
    if background == "noise":
        gray = rng.uniform(0, noise_max, (size, size)).astype(np.float32)
    taken: list[np.ndarray] = []
    boxes, kept = [], []
    for _ in range(count):
        spot = _free_spot(rng, size, frame_range, taken)
        if spot is None:
            continue
        frame, cy, cx, square = spot
        index = int(rng.integers(len(digits)))
        box = paste_digit(gray, digits[index], frame, (cy, cx), rng, colour=1.0)
        if box is not None:
            taken.append(square)
            boxes.append(box / size)
            kept.append(int(labels[index]))
    image = np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=2)
    return Scene(image.astype(np.float32), np.array(boxes, np.float32).reshape(-1, 4), np.array(kept, np.int64))


HERSHEY_FONTS = ("FONT_HERSHEY_SIMPLEX", "FONT_HERSHEY_DUPLEX", "FONT_HERSHEY_COMPLEX", "FONT_HERSHEY_TRIPLEX",
                 "FONT_HERSHEY_PLAIN", "FONT_HERSHEY_SCRIPT_SIMPLEX")


def printed_digits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n digits printed in OpenCV's Hershey fonts, framed as MNIST frames its digits; returns (n, 28, 28) uint8 and labels.

    Like MNIST: the glyph, white on black, is scaled to fit a 20x20 box (keeping its aspect ratio) and
    placed in a 28x28 frame with its centre of mass at the frame's centre. Font and stroke width vary.
    """
    import cv2

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    images = np.zeros((n, 28, 28), np.uint8)
    labels = rng.integers(0, 10, n)
    for i, label in enumerate(labels):
        font = getattr(cv2, HERSHEY_FONTS[int(rng.integers(len(HERSHEY_FONTS)))])
        canvas = np.zeros((96, 96), np.uint8)
        cv2.putText(canvas, str(label), (20, 76), font, 2.0, 255, int(rng.integers(2, 6)), cv2.LINE_AA)
        rows, cols = np.nonzero(canvas)
        glyph = canvas[rows.min():rows.max() + 1, cols.min():cols.max() + 1].astype(np.float32)
        factor = 20 / max(glyph.shape)
        size = (max(1, round(glyph.shape[1] * factor)), max(1, round(glyph.shape[0] * factor)))
        glyph = cv2.resize(glyph, size, interpolation=cv2.INTER_AREA)
        mass = glyph / max(float(glyph.sum()), 1e-6)
        cy, cx = (mass.sum(1) * np.arange(glyph.shape[0])).sum(), (mass.sum(0) * np.arange(glyph.shape[1])).sum()
        top, left = int(np.clip(round(14 - cy), 0, 28 - glyph.shape[0])), int(np.clip(round(14 - cx), 0, 28 - glyph.shape[1]))
        images[i, top:top + glyph.shape[0], left:left + glyph.shape[1]] = np.clip(glyph, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)
