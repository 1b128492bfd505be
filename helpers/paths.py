"""Where the course keeps things: the repository, the data cache, saved models; and paths printed short."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "COURSE_DATA_DIR"


def project_root() -> Path:
    """The repository root (the folder that holds helpers/)."""
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data cache folder (COURSE_DATA_DIR or data/ in the repository), created if missing."""
    path = Path(os.environ.get(DATA_ENV) or project_root() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(name: str) -> Path:
    """A named sub-folder of the data cache (e.g. 'downloads', 'artifacts'), created if missing."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"cache folder name must be one plain folder name, got {name!r}")
    path = data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifacts_dir() -> Path:
    """Where chapters write models and other files they make: <data>/artifacts, never notebooks/."""
    return cache_dir("artifacts")


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a learner should read it: '<data>/...' or '<course>/...' instead of an absolute path."""
    path = Path(path).resolve()
    for label, root in (("<data>", data_dir().resolve()), ("<course>", project_root())):
        if path == root or path.is_relative_to(root):
            relative = path.relative_to(root).as_posix()
            return label if relative == "." else f"{label}/{relative}"
    return str(path)
