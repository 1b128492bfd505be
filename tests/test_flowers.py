"""Unit tests of helpers.flowers: synthetic stand-in, folder check, downloads (no network), timing."""

import hashlib
import io
import socket
import tarfile

import numpy as np
import pytest
from PIL import Image

from helpers import flowers


def _jpeg(path, size=(20, 16), colour=(200, 30, 30)):
    """Write a small valid JPEG and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, quality=90)
    return path


# --- synthetic stand-in ---------------------------------------------------


def test_render_is_deterministic_and_varied():
    a = flowers.render_synthetic_flower("daisy", [0, 0, 1])
    b = flowers.render_synthetic_flower("daisy", [0, 0, 1])
    c = flowers.render_synthetic_flower("daisy", [0, 0, 2])
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("kind", flowers.FLOWER_CLASSES)
def test_every_kind_renders(kind):
    image = flowers.render_synthetic_flower(kind, 7)
    assert 100 <= image.shape[0] < 180 and 110 <= image.shape[1] < 200
    assert image.std() > 5  # not a blank canvas


def test_render_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown flower kind 'cactus'"):
        flowers.render_synthetic_flower("cactus", 0)


def test_make_synthetic_flowers_writes_named_class_folders_once(course_env):
    folder = flowers.make_synthetic_flowers(3, seed=1)
    assert "synthetic" in folder.name and folder.parent.name == "synthetic_flowers"
    assert flowers.count_images(folder) == {name: 3 for name in flowers.SYNTHETIC_CLASSES}
    assert all(name.startswith("synthetic_") for name in flowers.count_images(folder))
    first = sorted(folder.rglob("*.jpg"))[0]
    stamp = first.stat().st_mtime_ns
    assert flowers.make_synthetic_flowers(3, seed=1) == folder  # cached: nothing rewritten
    assert first.stat().st_mtime_ns == stamp
    assert flowers.check_image_folder(folder) == []


def test_make_synthetic_flowers_is_reproducible(tmp_path):
    a = flowers.make_synthetic_flowers(2, seed=5, root=tmp_path / "a")
    b = flowers.make_synthetic_flowers(2, seed=5, root=tmp_path / "b")
    files_a, files_b = sorted(a.rglob("*.jpg")), sorted(b.rglob("*.jpg"))
    assert [f.name for f in files_a] == [f.name for f in files_b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(files_a, files_b))


def test_make_synthetic_flowers_rebuilds_a_damaged_cache(tmp_path):
    folder = flowers.make_synthetic_flowers(2, root=tmp_path)
    (folder / "manifest.json").write_text("{}")
    (folder / flowers.SYNTHETIC_CLASSES[0] / "stray.jpg").write_bytes(b"")
    (folder.with_name(folder.name + ".partial")).mkdir()
    again = flowers.make_synthetic_flowers(2, root=tmp_path)
    assert again == folder and not (folder / flowers.SYNTHETIC_CLASSES[0] / "stray.jpg").exists()
    assert not folder.with_name(folder.name + ".partial").exists()


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "10"])
def test_make_synthetic_flowers_rejects_bad_counts(bad, tmp_path):
    with pytest.raises(ValueError, match="per_class must be an int >= 2"):
        flowers.make_synthetic_flowers(bad, root=tmp_path)


def test_synthetic_new_image_lies_outside_the_class_folders(tmp_path):
    folder = flowers.make_synthetic_flowers(2, root=tmp_path)
    new = flowers.make_synthetic_new_image(seed=0, root=tmp_path)
    assert new.is_file() and "synthetic" in new.name and folder not in new.parents
    assert flowers.make_synthetic_new_image(seed=0, root=tmp_path) == new
    assert flowers.check_file(new) == ""


def test_synthetic_folder_loads_with_keras(tmp_path):
    import keras

    folder = flowers.make_synthetic_flowers(5, root=tmp_path)
    train, val = keras.utils.image_dataset_from_directory(
        folder, validation_split=0.2, subset="both", seed=1, image_size=(32, 32), batch_size=4, verbose=False)
    assert train.class_names == list(flowers.SYNTHETIC_CLASSES)
    images, labels = next(iter(train))
    assert images.shape == (4, 32, 32, 3) and labels.shape == (4,)
    assert sum(int(y.shape[0]) for _, y in train) == 20 and sum(int(y.shape[0]) for _, y in val) == 5


# --- folder check -----------------------------------------------------------


@pytest.fixture
def messy_folder(tmp_path):
    """Two classes with good JPEGs plus each kind of bad file."""
    root = tmp_path / "photos"
    for name in ("a", "b"):
        for i in range(3):
            _jpeg(root / name / f"{name}{i}.jpg")
    good = root / "a" / "a0.jpg"
    (root / "a" / "empty.jpg").write_bytes(b"")
    (root / "a" / "notes.jpg").write_text("this is text, not a JPEG")
    (root / "b" / "truncated.jpg").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (root / "b" / "readme.txt").write_text("not an image name")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="TIFF")
    (root / "b" / "scan.png").write_bytes(buffer.getvalue())
    (root / "loose_file_at_top.txt").write_text("ignored: not in a class folder")
    return root


def test_check_file_gives_each_reason(messy_folder):
    assert flowers.check_file(messy_folder / "a" / "a0.jpg") == ""
    assert flowers.check_file(messy_folder / "a" / "empty.jpg") == "empty file (0 bytes)"
    assert flowers.check_file(messy_folder / "a" / "notes.jpg").startswith("not decodable")
    assert "truncated" in flowers.check_file(messy_folder / "b" / "truncated.jpg").lower()
    assert flowers.check_file(messy_folder / "b" / "readme.txt").startswith("not an image file name (.txt)")
    assert "TIFF" in flowers.check_file(messy_folder / "b" / "scan.png")


def test_check_image_folder_moves_bad_files_aside(messy_folder):
    bad = flowers.check_image_folder(messy_folder)
    names = sorted(b.path.name for b in bad)
    assert names == ["empty.jpg", "notes.jpg", "readme.txt", "scan.png", "truncated.jpg"]
    assert all(not b.path.exists() and b.reason for b in bad)
    rejected = messy_folder.with_name("photos_rejected")
    assert (rejected / "a" / "empty.jpg").exists() and (rejected / "b" / "truncated.jpg").exists()
    assert flowers.count_images(messy_folder) == {"a": 3, "b": 3}
    assert flowers.check_image_folder(messy_folder) == []  # clean now


def test_check_image_folder_can_only_report(messy_folder):
    bad = flowers.check_image_folder(messy_folder, move=False)
    assert len(bad) == 5 and all(b.path.exists() for b in bad)


def test_checked_folder_loads_where_the_raw_one_fails(messy_folder):
    import keras
    import tensorflow as tf

    def read_all():
        ds = keras.utils.image_dataset_from_directory(messy_folder, image_size=(8, 8), batch_size=2, verbose=False)
        return sum(int(y.shape[0]) for _, y in ds)

    with pytest.raises(tf.errors.InvalidArgumentError):
        read_all()
    flowers.check_image_folder(messy_folder)
    assert read_all() == 6


def test_check_image_folder_rejects_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image folder"):
        flowers.check_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        flowers.check_image_folder(tmp_path / "flat")
    _jpeg(tmp_path / "root" / "a" / "x.jpg")
    with pytest.raises(ValueError, match="must lie outside"):
        flowers.check_image_folder(tmp_path / "root", quarantine=tmp_path / "root" / "rejected")


def test_count_images_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image folder"):
        flowers.count_images(tmp_path / "nope")


# --- downloads (no network here: keras' downloader is replaced) ---------------


def _archive(tmp_path):
    """A tiny flower_photos.tgz: two class folders with one JPEG each, plus LICENSE.txt."""
    src = tmp_path / "src" / "flower_photos"
    _jpeg(src / "daisy" / "1.jpg")
    _jpeg(src / "roses" / "2.jpg")
    (src / "LICENSE.txt").write_text("CC-BY")
    archive = tmp_path / "flower_photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="flower_photos")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_download_flower_photos_verifies_extracts_once_and_uses_a_timeout(course_env, monkeypatch, tmp_path):
    import shutil

    from keras.src.utils import file_utils

    archive, digest = _archive(tmp_path)
    calls = []

    def fake_urlretrieve(url, target, reporthook=None):
        calls.append((url, socket.getdefaulttimeout()))
        shutil.copy(archive, target)

    monkeypatch.setattr(file_utils, "urlretrieve", fake_urlretrieve)
    monkeypatch.setattr(flowers, "FLOWERS_SHA256", digest)
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    folder = flowers.download_flower_photos(timeout=7)
    assert calls == [(flowers.FLOWERS_URL, 7.0)] and socket.getdefaulttimeout() is None
    assert folder.parent.parent == course_env / "data" / "flower_photos"  # the course cache, not ~/.keras
    assert flowers.count_images(folder) == {"daisy": 1, "roses": 1}
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # extracted once: later calls need no network
    assert flowers.download_flower_photos() == folder and len(calls) == 1


def test_download_rejects_a_wrong_checksum(course_env, monkeypatch, tmp_path):
    import shutil

    from keras.src.utils import file_utils

    archive, _ = _archive(tmp_path)
    monkeypatch.setattr(file_utils, "urlretrieve", lambda url, target, hook=None: shutil.copy(archive, target))
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    with pytest.raises(ValueError, match="file hash does not match"):
        flowers.download_flower_photos()


def test_download_without_the_folder_in_the_archive(course_env, monkeypatch, tmp_path):
    import shutil

    from keras.src.utils import file_utils

    other = tmp_path / "other.tgz"
    _jpeg(tmp_path / "x" / "y.jpg")
    with tarfile.open(other, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="something_else")
    monkeypatch.setattr(file_utils, "urlretrieve", lambda url, target, hook=None: shutil.copy(other, target))
    monkeypatch.setattr(flowers, "FLOWERS_SHA256", hashlib.sha256(other.read_bytes()).hexdigest())
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    with pytest.raises(FileNotFoundError, match="did not contain flower_photos"):
        flowers.download_flower_photos()


def test_download_network_failure_is_a_clear_connection_error(course_env, monkeypatch):
    import urllib.error

    from keras.src.utils import file_utils

    def unreachable(url, target, hook=None):
        raise urllib.error.URLError("timed out")

    monkeypatch.setattr(file_utils, "urlretrieve", unreachable)
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    with pytest.raises(ConnectionError, match="COURSE_OFFLINE=1 to run the chapter on the synthetic stand-in"):
        flowers.download_new_photo(timeout=1)


def test_offline_download_fails_fast_naming_the_switch(course_env):
    with pytest.raises(FileNotFoundError, match="COURSE_OFFLINE=1 forbids downloading"):
        flowers.download_flower_photos()
    with pytest.raises(FileNotFoundError, match="Red_sunflower"):
        flowers.download_new_photo()


@pytest.mark.parametrize("bad", [0, -1, "5", True])
def test_socket_timeout_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        with flowers.socket_timeout(bad):
            pass


# --- timing -------------------------------------------------------------------


def test_time_epochs_counts_passes():
    seconds = flowers.time_epochs([1, 2, 3], epochs=2)
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
    with pytest.raises(ValueError, match="empty"):
        flowers.time_epochs([], epochs=1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        flowers.time_epochs([1], epochs=0)


# --- choosing the source ---------------------------------------------------------


def test_flower_source_offline_is_the_synthetic_stand_in(course_env):
    source = flowers.flower_source(3)
    assert source.synthetic and "SYNTHETIC" in source.description and "15 JPEGs" in source.description
    assert source.folder.is_dir() and source.new_image.is_file() and source.folder not in source.new_image.parents


def test_flower_source_online_uses_the_real_photos(course_env, monkeypatch, tmp_path):
    real = tmp_path / "flower_photos"
    for name in flowers.FLOWER_CLASSES:
        _jpeg(real / name / "1.jpg")
    new = _jpeg(tmp_path / "Red_sunflower.jpg")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    monkeypatch.setattr(flowers, "download_flower_photos", lambda timeout: real)
    monkeypatch.setattr(flowers, "download_new_photo", lambda timeout: new)
    source = flowers.flower_source(3)
    assert not source.synthetic and source.folder == real and source.new_image == new
    assert "real photos" in source.description and "5 JPEGs" in source.description
