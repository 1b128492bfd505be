"""Tests of helpers.digit_scenes: scenes, training windows, the tiny net and the exported detector's contract."""

import json
import shutil

import numpy as np
import pytest

from helpers import detection, digit_scenes


@pytest.fixture
def digits():
    """Twenty fake 28x28 digits: a filled square of ink in the middle, labels 0..9 twice."""
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 8:20, 10:18] = 255
    return images, np.arange(20) % 10


def test_scene_has_boxes_around_the_ink(digits):
    rng = np.random.default_rng(0)
    scene = digit_scenes.make_scene(rng, *digits, size=256, count=(3, 3))
    assert scene.image.shape == (256, 256, 3) and scene.image.dtype == np.float32
    assert 0 <= scene.image.min() and scene.image.max() <= 1
    assert len(scene.boxes) == len(scene.labels) >= 1
    detection.check_boxes(scene.boxes)
    overlaps = detection.iou(scene.boxes, scene.boxes)
    assert np.allclose(overlaps, np.eye(len(scene.boxes)))          # digits never overlap
    for box in scene.boxes:                                          # the box is where the ink differs
        top, left, bottom, right = np.round(box * 256).astype(int)
        assert bottom - top >= 0.3 * digit_scenes.FRAME_RANGE[0] * 12 / 28


def test_scene_is_reproducible_from_its_seed(digits):
    one = digit_scenes.make_scene(np.random.default_rng(5), *digits, size=200)
    two = digit_scenes.make_scene(np.random.default_rng(5), *digits, size=200)
    assert np.array_equal(one.image, two.image) and np.array_equal(one.boxes, two.boxes)


def test_pasted_digit_box_is_exact():
    image = np.zeros((100, 100, 3), np.float32)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 10:18] = 255
    box = digit_scenes.paste_digit(image, digit, 28, (50, 50), np.random.default_rng(0))
    assert box.tolist() == [40, 46, 60, 54]
    assert digit_scenes.paste_digit(image, digit, 28, (500, 500), np.random.default_rng(0)) is None


@pytest.mark.parametrize("bad", [np.zeros((3, 28)), np.zeros((0, 28, 28)), np.zeros((2, 20, 20))])
def test_bad_digits_are_rejected(bad):
    with pytest.raises(ValueError, match="digits"):
        digit_scenes.make_scene(np.random.default_rng(0), bad, np.zeros(len(bad), int))


def test_bad_labels_and_sizes_are_rejected(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="labels"):
        digit_scenes.make_patches(np.random.default_rng(0), images, labels + 5, 4)
    with pytest.raises(ValueError, match="size"):
        digit_scenes.make_scene(np.random.default_rng(0), images, labels, size=50)
    with pytest.raises(ValueError, match="n must"):
        digit_scenes.make_patches(np.random.default_rng(0), images, labels, 0)
    with pytest.raises(ValueError, match="positive"):
        digit_scenes.make_background(np.random.default_rng(0), 0, 5)


def test_patches_have_targets_for_digits_and_background(digits):
    x, y = digit_scenes.make_patches(np.random.default_rng(1), *digits, 200)
    assert x.shape == (200, 28, 28, 1) and y.shape == (200, 6)
    positive = y[:, 0] < digit_scenes.BACKGROUND
    assert 0.3 < positive.mean() < 0.7
    assert (y[positive, 5] == 1).all() and (y[~positive, 5] == 0).all()
    centre = (y[positive, 1:3] + y[positive, 3:5]) / 2
    assert np.abs(centre - 0.5).max() < 0.25                         # positives are centred in the window


def test_window_net_is_fully_convolutional():
    net = digit_scenes.build_detector_net(seed=0)
    assert net.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0).shape == (1, 1, 1, 15)
    # a 28 + 4k window grid: one output per 4 pixels
    assert net.predict(np.zeros((1, 60, 44, 1), np.float32), verbose=0).shape == (1, 9, 5, 15)


def test_a_window_of_the_big_image_scores_as_the_patch_alone():
    rng = np.random.default_rng(2)
    net = digit_scenes.build_detector_net(seed=0)
    image = rng.uniform(0, 1, (1, 60, 60, 1)).astype(np.float32)
    full = net.predict(image, verbose=0)
    patch = net.predict(image[:, 8:36, 12:40], verbose=0)            # the window at row 8, column 12
    assert np.allclose(full[0, 2, 3], patch[0, 0, 0], atol=1e-5)


def test_training_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected x"):
        digit_scenes.train_detector_net(np.zeros((4, 28, 28)), np.zeros((4, 6)), digit_scenes.TrainingConfig())


@pytest.mark.parametrize("settings", [{"epochs": 0}, {"n_patches": 0}, {"batch_size": 0}, {"learning_rate": 0.0},
                                      {"decay_at": 0.0}, {"decay_at": 1.5}])
def test_config_rejects_bad_settings(settings):
    with pytest.raises(ValueError, match="must be at least 1|need learning_rate"):
        digit_scenes.TrainingConfig(**settings)


def test_learning_rate_drops_tenfold_after_decay_at():
    config = digit_scenes.TrainingConfig(epochs=2, batch_size=32, learning_rate=1e-2, decay_at=0.5)
    schedule = digit_scenes.rate_schedule(config, n_windows=64)          # 2 steps per epoch, 4 in all
    assert [round(float(schedule(step)), 6) for step in range(4)] == [1e-2, 1e-2, 1e-3, 1e-3]
    with pytest.raises(ValueError, match="n_windows"):
        digit_scenes.rate_schedule(config, n_windows=0)


def test_config_key_changes_with_settings():
    assert digit_scenes.TrainingConfig().key() != digit_scenes.TrainingConfig(epochs=1).key()
    assert digit_scenes.TrainingConfig().key() != digit_scenes.TrainingConfig(decay_at=0.5).key()
    assert digit_scenes.TrainingConfig().key() == digit_scenes.TrainingConfig().key()


def test_exported_detector_has_the_faster_rcnn_contract(digits):
    """A tiny training run, exported, cached and loaded with tensorflow_hub.load like the real model."""
    import tensorflow as tf

    config = digit_scenes.TrainingConfig(n_patches=64, epochs=1, batch_size=32)
    path, info = digit_scenes.trained_detector(*digits, config, verbose=False)
    assert not info["cached"] and (path / "saved_model.pb").is_file()
    again, info_again = digit_scenes.trained_detector(*digits, config, verbose=False)
    assert again == path and info_again["cached"]
    shutil.rmtree(path)                                  # a changed export: the cached net is exported again
    assert digit_scenes.trained_detector(*digits, config, verbose=False)[0] == path and (path / "saved_model.pb").is_file()
    assert json.loads((path.parent / "training.json").read_text())["config"]["n_patches"] == 64

    model = detection.load_hub_model(str(path))
    run = model.signatures["default"]
    spec = run.structured_input_signature[1]["images"]
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [1, None, None, 3]
    out = run(images=tf.zeros([1, 96, 128, 3]))
    assert set(out) == set(detection.OUTPUT_KEYS)
    dtypes = {key: value.dtype for key, value in out.items()}
    assert dtypes == {"detection_boxes": tf.float32, "detection_scores": tf.float32,
                      "detection_class_entities": tf.string, "detection_class_names": tf.string,
                      "detection_class_labels": tf.int64}
    n = out["detection_scores"].shape[0]
    assert out["detection_boxes"].shape == (n, 4) and out["detection_class_labels"].shape == (n,)
    result = detection.as_numpy(out)
    assert all(entity.startswith("digit ") for entity in result["detection_class_entities"])
    scores = result["detection_scores"]
    assert (np.diff(scores) <= 0).all() and ((0 <= result["detection_boxes"]) & (result["detection_boxes"] <= 1)).all()
    raw = model.signatures["candidates"](images=tf.zeros([1, 96, 128, 3]))
    assert (raw["scores"].numpy() >= 0.01).all() and raw["boxes"].shape[0] == raw["scores"].shape[0]
    blank = run(images=tf.fill([1, 512, 512, 3], 0.5))       # like Faster R-CNN: always its 100 best boxes
    assert blank["detection_scores"].shape[0] == 100
    scenes = [digit_scenes.make_scene(np.random.default_rng(0), *digits, size=128)]
    metrics = digit_scenes.evaluate(run, scenes, min_score=0.0)
    assert 0 <= metrics["recall"] <= 1 and metrics["digits"] == len(scenes[0].labels)
    with pytest.raises(ValueError, match="scene"):
        digit_scenes.evaluate(run, [])


def test_boxes_inside_better_boxes_are_flagged():
    import tensorflow as tf

    boxes = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.9, 0.9]])
    assert digit_scenes.inside_better_box(boxes).numpy().tolist() == [False, True, False]
    classes, agreement = digit_scenes.vote(boxes[:1], boxes, tf.constant([0.9, 0.5, 0.8]), tf.one_hot([3, 3, 5], 10))
    assert classes.numpy().tolist() == [3] and np.isclose(agreement.numpy()[0], 1.0)
