"""Unit tests of helpers.idx: IDX bytes (MNIST's format) written, parsed and read from plain or .gz files."""

import gzip
import hashlib

import numpy as np
import pytest

from helpers import idx


def write_gz(path, data: bytes):
    """Write `data` gzip-compressed to `path`."""
    with gzip.open(path, "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64, ">i4", ">f8"])
def test_idx_round_trip_every_type(dtype, rng, tmp_path):
    array = (rng.random((3, 4, 5)) * 100).astype(dtype)
    raw = idx.idx_bytes(array)
    assert raw[:2] == b"\x00\x00" and raw[3] == 3 and int.from_bytes(raw[4:8], "big") == 3
    back = idx.parse_idx(raw)
    assert back.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(back, array)
    write_gz(tmp_path / "a.idx.gz", raw)
    (tmp_path / "a.idx").write_bytes(raw)
    assert np.array_equal(idx.read_idx(tmp_path / "a.idx.gz"), array)
    assert np.array_equal(idx.read_idx(tmp_path / "a.idx", hashlib.sha256(raw).hexdigest()), array)


def test_idx_labels_match_the_published_layout():
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    raw = idx.idx_bytes(labels)
    assert raw == bytes([0, 0, 0x08, 1, 0, 0, 0, 5, 3, 1, 4, 1, 5])
    assert idx.parse_idx(raw).tolist() == [3, 1, 4, 1, 5]


@pytest.mark.parametrize("raw, message", [
    (b"", "not an IDX file: it must start with two zero bytes"),
    (b"\x00", "not an IDX file"),
    (b"\x01\x00\x08\x01", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", "declares 0 dimensions"),
    (b"\x00\x00\x08\x02\x00\x00", "truncated: its header needs 12 bytes, got 6"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "has 10 bytes but its header \\(5,\\) needs 13"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "has 10 bytes but its header \\(1,\\) needs 9"),
])
def test_parse_idx_rejects_malformed_bytes(raw, message):
    with pytest.raises(ValueError, match=message):
        idx.parse_idx(raw, "labels.idx")


def test_parse_idx_names_the_data_in_its_error():
    with pytest.raises(ValueError, match="^train-labels is not an IDX file"):
        idx.parse_idx(b"PK\x03\x04", "train-labels")


def test_idx_bytes_rejects_bad_input():
    with pytest.raises(TypeError, match="numpy array"):
        idx.idx_bytes([1, 2])
    with pytest.raises(TypeError, match="cannot store dtype uint16"):
        idx.idx_bytes(np.zeros(2, dtype=np.uint16))
    with pytest.raises(ValueError, match="at least one dimension"):
        idx.idx_bytes(np.array(5, dtype=np.uint8))


def test_read_idx_names_the_file_on_checksum_mismatch(tmp_path):
    path = tmp_path / "labels.gz"
    write_gz(path, idx.idx_bytes(np.arange(4, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*labels\.gz: SHA-256 [0-9a-f]{64}, expected 0{64}"):
        idx.read_idx(path, "0" * 64)


def test_read_idx_refuses_truncated_or_fake_gzip_and_missing_files(rng, tmp_path):
    path = tmp_path / "cut.gz"
    write_gz(path, idx.idx_bytes(rng.integers(0, 255, (50, 28, 28), dtype=np.uint8)))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.gz is not a complete gzip file .*delete it and fetch it again"):
        idx.read_idx(path)
    (tmp_path / "junk.gz").write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="junk.gz is not a complete gzip file"):
        idx.read_idx(tmp_path / "junk.gz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        idx.read_idx(tmp_path / "absent.gz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        idx.read_bytes(tmp_path)  # a folder is not a file
