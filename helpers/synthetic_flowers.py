"""A synthetic stand-in for the flower photos: drawn flowers in five classes, fully determined by a seed.

No package ships real flower photos, so offline the course draws them. Every folder, class name and
printed line says "synthetic": accuracies on these images say nothing about real flowers.
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .paths import data_dir

FLOWER_KINDS = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
SYNTHETIC_PREFIX = "synthetic_"
SYNTHETIC_CLASSES = tuple(SYNTHETIC_PREFIX + name for name in FLOWER_KINDS)
SYNTHETIC_VERSION = 7
STALE_PARTIAL_S = 600  # a half-written set older than this belongs to a process that died



def _polygon(cx: float, cy: float, points: np.ndarray, angle: float) -> list[tuple[float, float]]:
    """Rotate (x, y) offsets by `angle` radians and move them to (cx, cy)."""
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + c * x - s * y, cy + s * x + c * y) for x, y in points]


def _ellipse_points(rx: float, ry: float, dx: float = 0.0, dy: float = 0.0, n: int = 16) -> np.ndarray:
    """Points on an ellipse centred at (dx, dy)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([dx + rx * np.cos(t), dy + ry * np.sin(t)], axis=1)


def _colour(rng: np.random.Generator, low: int = 30, high: int = 255) -> tuple[int, int, int]:
    """A random RGB colour."""
    return tuple(int(v) for v in rng.integers(low, high, size=3))


def _hsv(rng: np.random.Generator, hue: float, spread: float, sat: tuple[float, float],
         val: tuple[float, float]) -> tuple[int, int, int]:
    """An RGB colour near `hue` (0..1) with saturation and value drawn from the given ranges."""
    h = (hue + rng.uniform(-spread, spread)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val))
    return int(255 * r), int(255 * g), int(255 * b)


# Typical petal and centre colours per kind: (hue, spread, saturation, value); a share of every
# class gets a random colour instead, so colour alone never decides the class.
_PETAL = {
    "daisy": (0.15, 0.5, (0.0, 0.25), (0.8, 1.0)),
    "dandelion": (0.14, 0.04, (0.7, 1.0), (0.8, 1.0)),
    "roses": (0.97, 0.05, (0.5, 0.9), (0.5, 0.95)),
    "sunflowers": (0.12, 0.04, (0.7, 1.0), (0.8, 1.0)),
    "tulips": (0.97, 0.05, (0.5, 0.9), (0.5, 0.95)),
}
RANDOM_COLOUR_SHARE = 0.1


def _petal_colour(kind: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """A petal colour: usually the kind's typical one, sometimes any colour."""
    if rng.random() < RANDOM_COLOUR_SHARE:
        return _hsv(rng, 0.0, 0.5, (0.3, 1.0), (0.5, 1.0))
    return _hsv(rng, *_PETAL[kind])


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A blurred natural-looking background: a gradient of greens, browns or sky, leafy blobs, a few stems."""
    hue = rng.choice([0.28, 0.1, 0.58, 0.33])  # leaves, soil, sky, grass
    a = np.array(_hsv(rng, hue, 0.06, (0.2, 0.7), (0.2, 0.8)))
    b = np.array(_hsv(rng, hue, 0.06, (0.2, 0.7), (0.2, 0.8)))
    t = np.linspace(0, 1, height)[:, None, None] if rng.random() < 0.5 else np.linspace(0, 1, width)[None, :, None]
    base = (a * (1 - t) + b * t) * np.ones((height, width, 1))
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.08, 0.3) * min(width, height)
        points = _ellipse_points(r, r * rng.uniform(0.25, 0.5))
        draw.polygon(_polygon(x, y, points, rng.uniform(0, np.pi)), fill=_hsv(rng, 0.3, 0.08, (0.3, 0.8), (0.2, 0.7)))
    image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(1.5, 3.5))))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 3))):
        x0, y0, x1, y1 = rng.uniform(0, 1, 4) * [width, height, width, height]
        draw.line([(x0, y0), (x1, y1)], fill=_hsv(rng, 0.3, 0.1, (0.3, 0.8), (0.2, 0.6)), width=int(rng.integers(1, 3)))
    return image


def _draw_flower(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, angle: float,
                 rng: np.random.Generator) -> None:
    """Draw one flower of `kind` (a name from FLOWER_KINDS) with radius r, rotated by angle."""
    petal = _petal_colour(kind, rng)
    centre = _hsv(rng, 0.08, 0.05, (0.5, 1.0), (0.2, 0.6)) if kind == "sunflowers" else _hsv(rng, 0.14, 0.05, (0.6, 1.0), (0.7, 1.0))
    if kind == "daisy":  # many long, thin petals around a small disc
        n = int(rng.integers(11, 17))
        for k in range(n):
            pts = _ellipse_points(0.42 * r, 0.09 * r, dx=0.55 * r)
            draw.polygon(_polygon(cx, cy, pts, angle + 2 * np.pi * k / n), fill=petal)
        draw.ellipse([cx - 0.2 * r, cy - 0.2 * r, cx + 0.2 * r, cy + 0.2 * r], fill=centre)
    elif kind == "dandelion":  # a fuzzy ball: a dense disc of thin radiating strands
        draw.ellipse([cx - 0.55 * r, cy - 0.55 * r, cx + 0.55 * r, cy + 0.55 * r], fill=petal)
        for k in range(int(rng.integers(70, 110))):
            a = angle + rng.uniform(0, 2 * np.pi)
            length = r * rng.uniform(0.6, 1.0)
            draw.line([(cx, cy), (cx + length * math.cos(a), cy + length * math.sin(a))], fill=petal, width=max(1, int(0.03 * r)))
        draw.ellipse([cx - 0.12 * r, cy - 0.12 * r, cx + 0.12 * r, cy + 0.12 * r], fill=centre)
    elif kind == "roses":  # a side-view bud on a stem: a rounded cup with layered, darker petal edges
        stem = np.array([[-0.05 * r, 0.3 * r], [0.05 * r, 0.3 * r], [0.05 * r, r], [-0.05 * r, r]])
        draw.polygon(_polygon(cx, cy, stem, angle), fill=_hsv(rng, 0.3, 0.05, (0.5, 0.9), (0.3, 0.7)))
        bud = _ellipse_points(0.45 * r, 0.55 * r, dy=-0.15 * r, n=24)
        draw.polygon(_polygon(cx, cy, bud, angle), fill=petal)
        darker = tuple(int(0.55 * v) for v in petal)
        for k, (rx, ry) in enumerate([(0.38, 0.3), (0.26, 0.2), (0.14, 0.12)]):
            t = np.linspace(np.pi * 1.05, np.pi * 1.95, 12)
            arc = np.stack([rx * r * np.cos(t), -0.2 * r + 0.12 * k * r + ry * r * np.sin(t)], axis=1)
            draw.line(_polygon(cx, cy, arc, angle), fill=darker, width=max(1, int(0.07 * r)))
        sepals = np.array([[-0.45 * r, 0.1 * r], [0.0, 0.45 * r], [0.45 * r, 0.1 * r], [0.0, 0.3 * r]])
        draw.polygon(_polygon(cx, cy, sepals, angle), fill=_hsv(rng, 0.3, 0.05, (0.5, 0.9), (0.3, 0.7)))
    elif kind == "sunflowers":  # a large dotted disc with a ring of short pointed petals
        n = int(rng.integers(14, 22))
        for k in range(n):
            pts = np.array([[0.5 * r, -0.12 * r], [r, 0.0], [0.5 * r, 0.12 * r]])
            draw.polygon(_polygon(cx, cy, pts, angle + 2 * np.pi * k / n), fill=petal)
        draw.ellipse([cx - 0.6 * r, cy - 0.6 * r, cx + 0.6 * r, cy + 0.6 * r], fill=centre)
        dot = _colour(rng)
        for _ in range(25):
            a, d = rng.uniform(0, 2 * np.pi), 0.45 * r * math.sqrt(rng.uniform())
            x, y = cx + d * math.cos(a), cy + d * math.sin(a)
            draw.ellipse([x - 0.05 * r, y - 0.05 * r, x + 0.05 * r, y + 0.05 * r], fill=dot)
    else:  # tulips: a cup with three pointed tips on a stem, seen from the side
        stem = np.array([[-0.05 * r, 0.2 * r], [0.05 * r, 0.2 * r], [0.05 * r, r], [-0.05 * r, r]])
        draw.polygon(_polygon(cx, cy, stem, angle), fill=_hsv(rng, 0.3, 0.05, (0.5, 0.9), (0.3, 0.7)))
        cup = np.array([[-0.5 * r, -0.7 * r], [-0.25 * r, -0.35 * r], [0.0, -0.75 * r], [0.25 * r, -0.35 * r],
                        [0.5 * r, -0.7 * r], [0.45 * r, 0.0], [0.25 * r, 0.3 * r], [-0.25 * r, 0.3 * r],
                        [-0.45 * r, 0.0]])
        draw.polygon(_polygon(cx, cy, cup, angle), fill=petal)


def render_synthetic_flower(kind: str, seed: int | Iterable[int]) -> np.ndarray:
    """One synthetic flower image (uint8 RGB, varied size) of `kind`, fully determined by `seed`."""
    if kind not in FLOWER_KINDS:
        raise ValueError(f"unknown flower kind {kind!r}; expected one of {FLOWER_KINDS}")
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(110, 200)), int(rng.integers(100, 180))
    image = _background(rng, width, height)
    draw = ImageDraw.Draw(image)
    side = min(width, height)
    r = side * rng.uniform(0.18, 0.32)
    cx, cy = rng.uniform(0.6 * r, width - 0.6 * r), rng.uniform(0.6 * r, height - 0.6 * r)
    angle = rng.uniform(-np.pi, np.pi)  # any direction, as if photographed from any side
    if kind in ("daisy", "dandelion", "sunflowers") and rng.random() < 0.5:  # some top views show a stem
        stem = np.array([[-0.05 * r, 0.3 * r], [0.05 * r, 0.3 * r], [0.05 * r, 1.5 * r], [-0.05 * r, 1.5 * r]])
        draw.polygon(_polygon(cx, cy, stem, angle), fill=_hsv(rng, 0.3, 0.05, (0.5, 0.9), (0.3, 0.7)))
    _draw_flower(draw, kind, cx, cy, r, angle, rng)
    lighting = rng.uniform(0.55, 1.15)  # a darker or brighter day
    return np.clip(np.asarray(image, dtype=np.float32) * lighting, 0, 255).astype(np.uint8)


def _class_seed(seed: int, class_index: int, index: int) -> list[int]:
    """Seed sequence of one image: independent of how many images are made."""
    return [seed, class_index, index]


def make_synthetic_flowers(per_class: int, seed: int = 0, root: Path | None = None) -> Path:
    """Write (once) a folder of synthetic flower JPEGs, one sub-folder per SYNTHETIC_CLASSES; return it."""
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 2:
        raise ValueError(f"per_class must be an int >= 2, got {per_class!r}")
    root = Path(root) if root is not None else data_dir() / "synthetic_flowers"
    folder = root / f"synthetic_flowers_{per_class}_per_class_seed{seed}_v{SYNTHETIC_VERSION}"
    manifest = folder / "manifest.json"
    recipe = {"per_class": per_class, "seed": seed, "version": SYNTHETIC_VERSION, "classes": list(SYNTHETIC_CLASSES)}
    if manifest.is_file() and json.loads(manifest.read_text()).get("recipe") == recipe:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(folder.name + ".partial*"):  # left by a writer that died: untouched for 10 minutes
        if time.time() - stale.stat().st_mtime > STALE_PARTIAL_S:
            shutil.rmtree(stale, ignore_errors=True)
    # A folder of its own for the writing, renamed when complete: two processes (notebooks tested in
    # parallel) that make the same set at once never see, or delete, each other's half-written files.
    partial = Path(tempfile.mkdtemp(prefix=folder.name + ".partial-", dir=root))
    for class_index, (kind, name) in enumerate(zip(FLOWER_KINDS, SYNTHETIC_CLASSES)):
        (partial / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = render_synthetic_flower(kind, _class_seed(seed, class_index, index))
            Image.fromarray(pixels).save(partial / name / f"{name}_{index:04d}.jpg", quality=90)
    (partial / "manifest.json").write_text(json.dumps({"recipe": recipe, "note": "synthetic, not photos"}, indent=1))
    try:
        partial.rename(folder)
    except OSError:  # another process finished the same set first: theirs is identical
        shutil.rmtree(partial)
        if not manifest.is_file():
            raise
    return folder


def make_synthetic_new_image(seed: int = 0, root: Path | None = None, kind: str = "sunflowers") -> Path:
    """One extra synthetic flower JPEG that lies outside the class folders (in neither split)."""
    root = Path(root) if root is not None else data_dir() / "synthetic_flowers"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"synthetic_new_{kind}_seed{seed}_v{SYNTHETIC_VERSION}.jpg"
    if not path.is_file():
        class_index = FLOWER_KINDS.index(kind) if kind in FLOWER_KINDS else -1
        pixels = render_synthetic_flower(kind, [seed, class_index, 1_000_000])
        handle, partial = tempfile.mkstemp(prefix=path.stem + ".partial-", suffix=".jpg", dir=root)
        os.close(handle)
        Image.fromarray(pixels).save(partial, quality=90)
        os.replace(partial, path)  # atomic: a reader sees no file or the whole file
    return path
