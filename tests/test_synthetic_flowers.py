"""Unit tests of helpers.synthetic_flowers: the seeded, clearly labelled stand-in for flower photos."""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from helpers import synthetic_flowers as synthetic
from helpers.image_folders import check_file, check_image_folder, count_images


def jpeg_bytes(folder):
    """{relative path: bytes} of every JPEG below `folder`."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.jpg"))}


def test_render_is_deterministic_and_varies_with_the_seed():
    a = synthetic.render_synthetic_flower("daisy", [0, 0, 1])
    b = synthetic.render_synthetic_flower("daisy", [0, 0, 1])
    c = synthetic.render_synthetic_flower("daisy", [0, 0, 2])
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


@pytest.mark.parametrize("kind", synthetic.FLOWER_KINDS)
def test_every_kind_renders_a_varied_picture(kind):
    image = synthetic.render_synthetic_flower(kind, 7)
    assert 100 <= image.shape[0] < 180 and 110 <= image.shape[1] < 200
    assert image.std() > 5  # not a blank canvas


def test_kinds_differ_for_the_same_seed():
    pictures = [synthetic.render_synthetic_flower(kind, 3) for kind in synthetic.FLOWER_KINDS]
    means = {round(float(p.mean()), 3) for p in pictures}
    assert len(means) == len(pictures)


def test_render_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown flower kind 'cactus'"):
        synthetic.render_synthetic_flower("cactus", 0)


def test_make_synthetic_flowers_writes_labelled_class_folders_once(course_env):
    folder = synthetic.make_synthetic_flowers(3, seed=1)
    assert folder.parent == course_env / "data" / "synthetic_flowers" and "synthetic" in folder.name
    assert count_images(folder) == {name: 3 for name in synthetic.SYNTHETIC_CLASSES}
    assert all(name.startswith("synthetic_") for name in synthetic.SYNTHETIC_CLASSES)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["recipe"] == {"per_class": 3, "seed": 1, "version": synthetic.SYNTHETIC_VERSION,
                                  "classes": list(synthetic.SYNTHETIC_CLASSES)}
    first = sorted(folder.rglob("*.jpg"))[0]
    stamp = first.stat().st_mtime_ns
    assert synthetic.make_synthetic_flowers(3, seed=1) == folder  # cached: nothing rewritten
    assert first.stat().st_mtime_ns == stamp
    assert check_image_folder(folder, move=False) == []


def test_make_synthetic_flowers_is_reproducible_and_depends_on_the_seed(tmp_path):
    a = jpeg_bytes(synthetic.make_synthetic_flowers(2, seed=5, root=tmp_path / "a"))
    b = jpeg_bytes(synthetic.make_synthetic_flowers(2, seed=5, root=tmp_path / "b"))
    c = jpeg_bytes(synthetic.make_synthetic_flowers(2, seed=6, root=tmp_path / "c"))
    assert a == b and len(a) == 10
    assert a.keys() == c.keys() and a != c


def test_more_images_per_class_keep_the_first_ones(tmp_path):
    two = jpeg_bytes(synthetic.make_synthetic_flowers(2, root=tmp_path))
    three = jpeg_bytes(synthetic.make_synthetic_flowers(3, root=tmp_path))
    assert all(three[name] == data for name, data in two.items())


def test_make_synthetic_flowers_rebuilds_a_damaged_cache(tmp_path):
    folder = synthetic.make_synthetic_flowers(2, root=tmp_path)
    (folder / "manifest.json").write_text("{}")
    (folder / synthetic.SYNTHETIC_CLASSES[0] / "stray.jpg").write_bytes(b"")
    stale, live = folder.with_name(folder.name + ".partial-dead"), folder.with_name(folder.name + ".partial-busy")
    stale.mkdir()
    live.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    again = synthetic.make_synthetic_flowers(2, root=tmp_path)
    assert again == folder and not (folder / synthetic.SYNTHETIC_CLASSES[0] / "stray.jpg").exists()
    assert not stale.exists() and live.exists()  # another process may still be writing that one
    assert count_images(folder) == {name: 2 for name in synthetic.SYNTHETIC_CLASSES}


def test_two_writers_of_the_same_set_at_once_both_get_it_whole(tmp_path):
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: synthetic.make_synthetic_flowers(3, seed=1, root=tmp_path), range(2)))
        new_images = list(pool.map(lambda _: synthetic.make_synthetic_new_image(seed=1, root=tmp_path), range(2)))
    assert folders[0] == folders[1] and count_images(folders[0]) == {name: 3 for name in synthetic.SYNTHETIC_CLASSES}
    assert new_images[0] == new_images[1] and check_file(new_images[0]) == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([folders[0].name, new_images[0].name])


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "10"])
def test_make_synthetic_flowers_rejects_bad_counts(bad, tmp_path):
    with pytest.raises(ValueError, match="per_class must be an int >= 2"):
        synthetic.make_synthetic_flowers(bad, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_synthetic_new_image_lies_outside_the_class_folders(tmp_path):
    folder = synthetic.make_synthetic_flowers(2, root=tmp_path)
    new = synthetic.make_synthetic_new_image(seed=0, root=tmp_path)
    assert new.is_file() and "synthetic" in new.name and folder not in new.parents
    assert new.read_bytes() not in jpeg_bytes(folder).values()
    assert synthetic.make_synthetic_new_image(seed=0, root=tmp_path) == new
    assert check_file(new) == ""
    assert synthetic.make_synthetic_new_image(seed=0, root=tmp_path, kind="roses") != new
    with pytest.raises(ValueError, match="unknown flower kind 'cactus'"):
        synthetic.make_synthetic_new_image(root=tmp_path, kind="cactus")


def test_synthetic_folder_loads_with_keras(tmp_path):
    import keras

    folder = synthetic.make_synthetic_flowers(5, root=tmp_path)
    train, val = keras.utils.image_dataset_from_directory(
        folder, validation_split=0.2, subset="both", seed=1, image_size=(32, 32), batch_size=4, verbose=False)
    assert train.class_names == list(synthetic.SYNTHETIC_CLASSES)
    images, labels = next(iter(train))
    assert images.shape == (4, 32, 32, 3) and labels.shape == (4,)
    assert sum(int(y.shape[0]) for _, y in train) == 20 and sum(int(y.shape[0]) for _, y in val) == 5
