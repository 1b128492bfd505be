"""IDX files, the format MNIST and Fashion-MNIST are published in: read (optionally .gz), parse and write."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .downloads import check_sha256

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {dtype.newbyteorder(">"): code for code, dtype in _IDX_DTYPES.items()}


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
    """Parse IDX bytes: a 4-byte magic number, big-endian dimensions, then the values."""
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


def read_idx(path: Path, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (optionally .gz), checking the SHA-256 of its decompressed bytes when given."""
    data = read_bytes(path)
    if sha256 is not None:
        check_sha256(data, sha256, str(path))
    return parse_idx(data, str(path))
