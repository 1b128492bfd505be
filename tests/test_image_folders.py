"""Unit tests of helpers.image_folders: counting class folders and moving aside files the loader cannot read."""

import io

import pytest
from PIL import Image

from helpers import image_folders


@pytest.fixture
def messy_folder(tmp_path, write_jpeg):
    """Two classes with three good JPEGs each, plus every kind of bad file."""
    root = tmp_path / "photos"
    for name in ("a", "b"):
        for i in range(3):
            write_jpeg(root / name / f"{name}{i}.jpg")
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


def test_count_images_counts_loader_readable_names_per_class(tmp_path, write_jpeg):
    write_jpeg(tmp_path / "f" / "b" / "1.JPG")
    write_jpeg(tmp_path / "f" / "a" / "1.jpeg")
    (tmp_path / "f" / "a" / "2.png").write_bytes(b"")  # counted by name: count_images does not decode
    (tmp_path / "f" / "a" / "notes.txt").write_text("x")
    (tmp_path / "f" / "top.jpg").write_bytes(b"")
    assert image_folders.count_images(tmp_path / "f") == {"a": 2, "b": 1}
    assert list(image_folders.count_images(tmp_path / "f")) == ["a", "b"]


def test_count_images_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image folder"):
        image_folders.count_images(tmp_path / "nope")


def test_check_file_gives_each_reason(messy_folder, capfd):
    assert image_folders.check_file(messy_folder / "a" / "a0.jpg") == ""
    assert image_folders.check_file(messy_folder / "a" / "empty.jpg") == "empty file (0 bytes)"
    assert image_folders.check_file(messy_folder / "a" / "notes.jpg") == \
        "not decodable: cannot identify image file 'notes.jpg'"  # the file's name, not its (temporary) path
    assert "truncated" in image_folders.check_file(messy_folder / "b" / "truncated.jpg").lower()
    assert image_folders.check_file(messy_folder / "b" / "readme.txt") == \
        "not an image file name (.txt); the loader ignores it"
    assert image_folders.check_file(messy_folder / "loose_file_at_top.txt").startswith("not an image file name")
    assert image_folders.check_file(messy_folder / "b" / "scan.png") == \
        "format TIFF that TensorFlow's decoder does not read"
    assert capfd.readouterr().err == ""  # libjpeg's complaints stay out of the notebook


def test_check_file_names_the_file_not_its_folder_even_when_the_path_has_backslashes(tmp_path):
    odd = tmp_path / "back\\slash" / "odd\\name.jpg"  # a repr doubles these, as it does in Windows paths
    odd.parent.mkdir()
    odd.write_text("not a JPEG")
    reason = image_folders.check_file(odd)
    assert reason.startswith("not decodable: ") and "odd" in reason
    assert str(tmp_path) not in reason and "slash" not in reason


def test_check_file_without_an_extension(tmp_path):
    (tmp_path / "README").write_text("x")
    assert image_folders.check_file(tmp_path / "README") == "not an image file name (no extension); the loader ignores it"


def test_check_image_folder_moves_bad_files_aside(messy_folder):
    bad = image_folders.check_image_folder(messy_folder)
    assert sorted(b.path.name for b in bad) == ["empty.jpg", "notes.jpg", "readme.txt", "scan.png", "truncated.jpg"]
    assert all(not b.path.exists() and b.reason for b in bad)
    rejected = messy_folder.with_name("photos_rejected")
    assert (rejected / "a" / "empty.jpg").exists() and (rejected / "b" / "truncated.jpg").exists()
    assert image_folders.count_images(messy_folder) == {"a": 3, "b": 3}
    assert (messy_folder / "loose_file_at_top.txt").exists()  # not in a class folder: left alone
    assert image_folders.check_image_folder(messy_folder) == []  # clean now


def test_check_image_folder_to_a_chosen_quarantine_and_in_sub_folders(messy_folder, tmp_path, write_jpeg):
    nested = messy_folder / "a" / "nested" / "broken.jpg"
    nested.parent.mkdir()
    nested.write_bytes(b"\xff\xd8 broken")
    bad = image_folders.check_image_folder(messy_folder, quarantine=tmp_path / "aside")
    assert len(bad) == 6 and (tmp_path / "aside" / "a" / "nested" / "broken.jpg").exists()


def test_check_image_folder_can_only_report(messy_folder):
    bad = image_folders.check_image_folder(messy_folder, move=False)
    assert len(bad) == 5 and all(b.path.exists() for b in bad)
    assert not messy_folder.with_name("photos_rejected").exists()


def test_checked_folder_loads_where_the_raw_one_fails(messy_folder):
    import keras
    import tensorflow as tf

    def read_all():
        ds = keras.utils.image_dataset_from_directory(messy_folder, image_size=(8, 8), batch_size=2, verbose=False)
        return sum(int(y.shape[0]) for _, y in ds)

    with pytest.raises(tf.errors.InvalidArgumentError):
        read_all()
    image_folders.check_image_folder(messy_folder)
    assert read_all() == 6


def test_check_image_folder_rejects_bad_folders(tmp_path, write_jpeg):
    with pytest.raises(FileNotFoundError, match="no image folder"):
        image_folders.check_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders; expected one folder per class"):
        image_folders.check_image_folder(tmp_path / "flat")
    write_jpeg(tmp_path / "root" / "a" / "x.jpg")
    with pytest.raises(ValueError, match="must lie outside .*or it would become a class"):
        image_folders.check_image_folder(tmp_path / "root", quarantine=tmp_path / "root" / "rejected")
