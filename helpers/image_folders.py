"""Folders of images, one sub-folder per class: count them, and find (and move aside) files a loader cannot read."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .session import stderr_silenced

# What keras.utils.image_dataset_from_directory reads: these extensions, decoded by content (tf.io.decode_image).
LOADER_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")
DECODABLE_FORMATS = {"JPEG", "PNG", "BMP", "GIF"}


def count_images(folder: Path) -> dict[str, int]:
    """Number of loader-readable files per class sub-folder, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no image folder at {folder}")
    return {sub.name: sum(1 for f in sub.iterdir() if f.suffix.lower() in LOADER_EXTENSIONS)
            for sub in sorted(folder.iterdir()) if sub.is_dir()}



@dataclass(frozen=True)
class BadFile:
    """A file in a class folder that the loader could not read, and why."""

    path: Path
    reason: str


def check_file(path: Path) -> str:
    """'' if `path` is an image the TensorFlow loader can decode, else the reason it is not."""
    path = Path(path)
    if path.suffix.lower() not in LOADER_EXTENSIONS:
        return f"not an image file name ({path.suffix or 'no extension'}); the loader ignores it"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:  # libjpeg reports a broken file on fd 2 as well as by the exception: keep only the exception
        with stderr_silenced(), Image.open(path) as image:
            fmt = image.format
            image.load()  # decodes every byte: a truncated file fails here
    except Exception as error:  # Pillow raises many kinds: UnidentifiedImageError, OSError, SyntaxError
        # Pillow quotes the whole path in some messages (as a repr: backslashes doubled on Windows); the caller
        # has the path, so keep only the file's name.
        message = str(error)
        for spelled in (repr(str(path))[1:-1], str(path)):
            message = message.replace(spelled, path.name)
        return f"not decodable: {message}"
    if fmt not in DECODABLE_FORMATS:
        return f"format {fmt} that TensorFlow's decoder does not read"
    return ""


def check_image_folder(folder: Path, quarantine: Path | None = None, move: bool = True) -> list[BadFile]:
    """Find files in class sub-folders that are not decodable images; move them aside (default) and report them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no image folder at {folder}")
    classes = sorted(sub for sub in folder.iterdir() if sub.is_dir())
    if not classes:
        raise ValueError(f"{folder} has no class sub-folders; expected one folder per class")
    quarantine = Path(quarantine) if quarantine is not None else folder.with_name(folder.name + "_rejected")
    if quarantine.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"quarantine {quarantine} must lie outside {folder}, or it would become a class")
    bad = []
    for sub in classes:
        for path in sorted(sub.rglob("*")):
            if not path.is_file():
                continue
            reason = check_file(path)
            if not reason:
                continue
            if move:
                target = quarantine / path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), str(target))
            bad.append(BadFile(path, reason))
    return bad
