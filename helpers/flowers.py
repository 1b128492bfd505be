"""The flower photos of chapter 06: TensorFlow's real archive when it can be fetched, else the synthetic stand-in."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from .downloads import NotAvailableError, fetch, first_available, unpack
from .image_folders import count_images
from .paths import cache_dir
from .synthetic_flowers import SYNTHETIC_CLASSES, SYNTHETIC_PREFIX, make_synthetic_flowers, make_synthetic_new_image

FLOWERS_URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
# Size and SHA-256 of flower_photos.tgz as published in TensorFlow Datasets' url_checksums/tf_flowers.txt.
FLOWERS_SHA256 = "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
FLOWERS_SIZE = 228_813_984
FLOWERS_COUNT = 3670
FLOWER_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
# The TensorFlow tutorial's photo that is in neither split; no checksum is published for it.
NEW_PHOTO_URL = "https://storage.googleapis.com/download.tensorflow.org/example_images/592px-Red_sunflower.jpg"
NEW_PHOTO_CLASS = "sunflowers"  # the class folder that photo's flower belongs to
# Set to 1 by `./course bench --full --standins` only: the synthetic stand-in then has as many images as the real
# archive (734 per class, 3,670 in all), to time a learner's online full run where the photos cannot be downloaded.
FLOWERS_STANDIN_ENV = "COURSE_FLOWERS_TIMING_STANDIN"
FLOWERS_STANDIN_PER_CLASS = FLOWERS_COUNT // len(FLOWER_CLASSES)
# When that photo cannot be fetched: a real flower photo in neither split that needs no network. It shows a
# dahlia, none of the five classes, so every answer a classifier of the five gives on it is wrong.
BUNDLED_PHOTO = ("scikit-learn's bundled flower.jpg (a real photo, CC-BY 2.0, in neither split; "
                 "a dahlia, none of the five classes)")


def download_flower_photos(timeout: float = 30.0, offline: bool | None = None) -> Path:
    """The real flower_photos folder (3,670 photos): downloaded, checksum-verified and extracted once."""
    root = cache_dir("flower_photos")
    folder, marker = root / "extracted" / "flower_photos", root / "extracted.json"
    if marker.is_file() and folder.is_dir():
        return folder
    archive = fetch(FLOWERS_URL, "flower_photos.tgz", sha256=FLOWERS_SHA256, timeout=timeout, offline=offline)
    unpack(archive, root / "extracted")
    if not folder.is_dir():
        raise FileNotFoundError(f"the archive from {FLOWERS_URL} did not contain flower_photos/")
    marker.write_text(json.dumps({"url": FLOWERS_URL, "sha256": FLOWERS_SHA256, "counts": count_images(folder)},
                                 indent=1))
    return folder


def download_new_photo(timeout: float = 30.0, offline: bool | None = None) -> Path:
    """The tutorial's red sunflower photo (in neither split), downloaded once."""
    return fetch(NEW_PHOTO_URL, "Red_sunflower.jpg", sha256=None, timeout=timeout, offline=offline)


def bundled_flower_photo() -> Path:
    """scikit-learn's bundled flower.jpg: a real photo of a dahlia (CC-BY 2.0), none of the five classes, offline."""
    try:
        path = Path(str(resources.files("sklearn.datasets.images") / "flower.jpg"))
    except ModuleNotFoundError as error:
        raise NotAvailableError("flower.jpg", [f"scikit-learn: {error}"], "pip install scikit-learn") from error
    if not path.is_file():
        raise NotAvailableError("flower.jpg", [f"{path}: not there"], "reinstall scikit-learn")
    return path


def _new_photo(timeout: float, offline: bool | None) -> tuple[Path, str | None]:
    """(photo, its class or None): the tutorial's sunflower, else the bundled dahlia of no class (with a banner)."""
    photo, label = first_available("the photo in neither split", [
        ("download", lambda: download_new_photo(timeout, offline)),
        (BUNDLED_PHOTO, bundled_flower_photo),
    ])
    return photo, NEW_PHOTO_CLASS if label == "download" else None


@dataclass(frozen=True)
class FlowerSource:
    """Where the chapter's images come from: the class folder, an image in neither split, and provenance.

    `new_image_class` names the class folder the new image belongs to, or is None when it belongs to none.
    """

    folder: Path
    new_image: Path
    synthetic: bool
    description: str
    new_image_class: str | None = None


def _real(timeout: float, offline: bool | None) -> FlowerSource:
    folder = download_flower_photos(timeout, offline)
    # Only the 3,670 photos decide: a missing extra photo has a stand-in.
    new_image, new_class = _new_photo(timeout, offline)
    total = sum(count_images(folder).values())
    return FlowerSource(folder, new_image, False,
                        f"TensorFlow flower_photos, real photos (CC-BY): {total} JPEGs in 5 class folders", new_class)


def _synthetic(per_class: int, seed: int) -> FlowerSource:
    folder = make_synthetic_flowers(per_class, seed=seed)
    total = sum(count_images(folder).values())
    return FlowerSource(folder, make_synthetic_new_image(seed=seed, kind=NEW_PHOTO_CLASS), True,
                        f"SYNTHETIC stand-in, drawn flowers, not photos: {total} JPEGs in {len(SYNTHETIC_CLASSES)} "
                        "synthetic_* class folders (the real flower_photos need a network once)",
                        SYNTHETIC_PREFIX + NEW_PHOTO_CLASS)


def flower_source(synthetic_per_class: int, seed: int = 0, timeout: float = 30.0,
                  offline: bool | None = None) -> FlowerSource:
    """The real flower photos when they can be fetched; otherwise the synthetic stand-in, with a banner if a download failed."""
    if os.environ.get(FLOWERS_STANDIN_ENV) == "1":
        standin = _synthetic(FLOWERS_STANDIN_PER_CLASS, seed)
        return replace(standin, description=f"TIMING STAND-IN ({FLOWERS_STANDIN_ENV}=1): " + standin.description)
    source, _ = first_available("flower photos", [
        ("TensorFlow flower_photos", lambda: _real(timeout, offline)),
        ("the SYNTHETIC stand-in (drawn flowers, not photos)", lambda: _synthetic(synthetic_per_class, seed)),
    ])
    return source
