"""Unit tests of helpers.flowers: the real photos through fetch and unpack (file:// URLs), else the stand-in."""

import hashlib
import json

import pytest

from helpers import downloads, flowers
from helpers.downloads import NotAvailableError


@pytest.fixture
def remote_photos(monkeypatch, tmp_path, write_jpeg, make_archive):
    """A tiny flower_photos.tgz and sunflower photo served from tmp_path, with the URLs and checksum pointed there.

    Online (COURSE_OFFLINE=0). Returns {"archive": path, "photo": path}.
    """
    jpeg = write_jpeg(tmp_path / "one.jpg").read_bytes()
    members = {f"flower_photos/{name}/1.jpg": jpeg for name in flowers.FLOWER_CLASSES}
    archive = make_archive(tmp_path / "remote" / "flower_photos.tgz",
                           {**members, "flower_photos/daisy/2.jpg": jpeg, "flower_photos/LICENSE.txt": b"CC-BY"})
    photo = write_jpeg(tmp_path / "remote" / "Red_sunflower.jpg")
    monkeypatch.setattr(flowers, "FLOWERS_URL", archive.as_uri())
    monkeypatch.setattr(flowers, "FLOWERS_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(flowers, "NEW_PHOTO_URL", photo.as_uri())
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    return {"archive": archive, "photo": photo}


def test_download_flower_photos_checks_extracts_once_and_records_what_it_did(remote_photos, course_env, monkeypatch):
    folder = flowers.download_flower_photos(timeout=7)
    root = course_env / "data" / "flower_photos"
    assert folder == root / "extracted" / "flower_photos"  # the course's cache, not ~/.keras
    assert flowers.count_images(folder) == {"daisy": 2, "dandelion": 1, "roses": 1, "sunflowers": 1, "tulips": 1}
    marker = json.loads((root / "extracted.json").read_text())
    assert marker == {"url": flowers.FLOWERS_URL, "sha256": flowers.FLOWERS_SHA256,
                      "counts": flowers.count_images(folder)}
    remote_photos["archive"].unlink()
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # extracted once: later calls need neither network nor archive
    assert flowers.download_flower_photos() == folder


def test_download_flower_photos_refuses_a_wrong_checksum(remote_photos, monkeypatch, course_env):
    monkeypatch.setattr(flowers, "FLOWERS_SHA256", "0" * 64)
    with pytest.raises(NotAvailableError, match="checksum mismatch") as info:
        flowers.download_flower_photos()
    assert str(info.value).endswith(f"To provide it: {downloads.MISMATCH_ADVICE}")
    assert not (course_env / "data" / "flower_photos" / "extracted").exists()


def test_download_flower_photos_needs_the_folder_in_the_archive(monkeypatch, tmp_path, make_archive):
    other = make_archive(tmp_path / "other.tgz", {"something_else/y.txt": b"y"})
    monkeypatch.setattr(flowers, "FLOWERS_URL", other.as_uri())
    monkeypatch.setattr(flowers, "FLOWERS_SHA256", hashlib.sha256(other.read_bytes()).hexdigest())
    with pytest.raises(FileNotFoundError, match="did not contain flower_photos/"):
        flowers.download_flower_photos(offline=False)


def test_download_new_photo_is_fetched_once(remote_photos, course_env):
    path = flowers.download_new_photo()
    assert path == course_env / "data" / "downloads" / "Red_sunflower.jpg"
    assert path.read_bytes() == remote_photos["photo"].read_bytes()
    remote_photos["photo"].unlink()
    assert flowers.download_new_photo(offline=True) == path


def test_offline_downloads_fail_at_once_naming_the_switch_and_the_fix():
    for download, url in ((flowers.download_flower_photos, flowers.FLOWERS_URL),
                          (flowers.download_new_photo, flowers.NEW_PHOTO_URL)):
        with pytest.raises(NotAvailableError) as info:
            download()
        assert f"{url}: not tried (COURSE_OFFLINE=1)" in str(info.value)
        assert str(info.value).endswith(f"To provide it: {downloads.GO_ONLINE}") and info.value.failed == []


def test_flower_source_offline_is_the_synthetic_stand_in_without_a_banner(capsys):
    source = flowers.flower_source(3)
    assert source.synthetic and source.description.startswith("SYNTHETIC stand-in")
    assert "15 JPEGs in 5 synthetic_* class folders" in source.description
    assert source.folder.is_dir() and source.new_image.is_file() and source.folder not in source.new_image.parents
    assert source.new_image_class == "synthetic_sunflowers" and (source.folder / source.new_image_class).is_dir()
    assert capsys.readouterr().out == ""


def test_flower_source_timing_standin_has_as_many_synthetic_images_as_the_real_archive(remote_photos, monkeypatch):
    monkeypatch.setattr(flowers, "FLOWERS_STANDIN_PER_CLASS", 4)  # 734 in a real run; 4 keeps the test quick
    monkeypatch.setenv(flowers.FLOWERS_STANDIN_ENV, "1")
    source = flowers.flower_source(3, timeout=5)  # the real photos could be fetched, and are not used
    assert source.synthetic and source.description.startswith("TIMING STAND-IN (COURSE_FLOWERS_TIMING_STANDIN=1): ")
    assert "20 JPEGs in 5 synthetic_* class folders" in source.description
    assert source.new_image_class == "synthetic_sunflowers"
    assert flowers.FLOWERS_COUNT // len(flowers.FLOWER_CLASSES) == 734


def test_flower_source_online_uses_the_real_photos(remote_photos, capsys):
    source = flowers.flower_source(3, timeout=5)
    assert not source.synthetic and source.folder.name == "flower_photos"
    assert source.new_image.read_bytes() == remote_photos["photo"].read_bytes()
    assert source.new_image_class == "sunflowers" and (source.folder / "sunflowers").is_dir()
    assert source.description == "TensorFlow flower_photos, real photos (CC-BY): 6 JPEGs in 5 class folders"
    assert capsys.readouterr().out == ""


def test_flower_source_says_so_when_a_download_failed(remote_photos, capsys):
    remote_photos["archive"].unlink()  # the photos do not arrive
    source = flowers.flower_source(2, seed=1)
    assert source.synthetic
    out = capsys.readouterr().out
    assert out.startswith(f"NOTE flower photos: {flowers.FLOWERS_URL}: download failed (FileNotFoundError")
    assert out.endswith("Using instead: the SYNTHETIC stand-in (drawn flowers, not photos).\n")


def test_flower_source_keeps_the_real_photos_when_only_the_extra_photo_fails(remote_photos, capsys):
    remote_photos["photo"].unlink()  # the archive arrives, the extra photo does not
    source = flowers.flower_source(2, seed=1)
    assert not source.synthetic and source.folder.name == "flower_photos"
    assert source.new_image == flowers.bundled_flower_photo() and source.new_image.name == "flower.jpg"
    assert source.new_image_class is None  # a dahlia: none of the five classes
    out = capsys.readouterr().out
    assert out.startswith(f"NOTE the photo in neither split: {flowers.NEW_PHOTO_URL}: download failed "
                          "(FileNotFoundError")
    assert out.endswith(f"Using instead: {flowers.BUNDLED_PHOTO}.\n")


def test_flower_source_offline_with_cached_photos_but_no_extra_photo_uses_them(remote_photos, monkeypatch, capsys):
    flowers.download_flower_photos()
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    source = flowers.flower_source(2)
    assert not source.synthetic and source.new_image.name == "flower.jpg" and capsys.readouterr().out == ""
    assert source.new_image_class is None


def test_the_bundled_photo_is_a_real_jpeg_of_a_flower():
    from PIL import Image

    with Image.open(flowers.bundled_flower_photo()) as image:
        assert image.format == "JPEG" and image.size == (640, 427)
