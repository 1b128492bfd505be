"""Tests of helpers.digit_detector: training windows, the window net and its loss, mining, caching, export, evaluation."""

import numpy as np
import pytest

from helpers import detection, digit_detector, scenes


@pytest.fixture
def digits():
    """Twenty fake 28x28 digits: a filled square of ink in the middle, labels 0..9 twice."""
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 8:20, 10:18] = 255
    return images, np.arange(20) % 10


def tiny_net(digits, stage="plain", n=64):
    """A window net fitted for one epoch on n windows, as the chapter's training cell does it."""
    import keras

    config = digit_detector.TrainingConfig(n_windows=n, epochs=1, batch_size=32, n_windows_2=n, epochs_2=1)
    x, y = digit_detector.make_windows(np.random.default_rng(0), *digits, n)
    net = digit_detector.build_detector_net(seed=0)
    net.compile(optimizer=keras.optimizers.Adam(digit_detector.rate_schedule(config, len(x), stage)),
                loss=digit_detector.detection_loss, metrics=[digit_detector.class_loss, digit_detector.box_loss])
    history = net.fit(x, y, batch_size=config.batch_size, epochs=1, verbose=0)
    return config, net, history


def test_windows_have_targets_for_digits_and_background(digits):
    x, y = digit_detector.make_windows(np.random.default_rng(1), *digits, 200)
    assert x.shape == (200, 28, 28, 1) and y.shape == (200, 6)
    positive = y[:, 0] < digit_detector.BACKGROUND
    assert 0.3 < positive.mean() < 0.7
    assert (y[positive, 5] == 1).all() and (y[~positive, 5] == 0).all()
    centre = (y[positive, 1:3] + y[positive, 3:5]) / 2
    assert np.abs(centre - 0.5).max() < 0.25                         # positives are centred in the window


def test_windows_on_every_background_kind(digits):
    x, _ = digit_detector.make_windows(np.random.default_rng(2), *digits, 300, backgrounds=scenes.BACKGROUND_KINDS)
    plain, _ = digit_detector.make_windows(np.random.default_rng(2), *digits, 300)
    assert x.shape == plain.shape and not np.array_equal(x, plain)
    restyled, _ = digit_detector.make_windows(np.random.default_rng(2), *digits, 300, backgrounds=scenes.BACKGROUND_KINDS,
                                              restyled=1.0)
    assert restyled.shape == x.shape and not np.array_equal(restyled, x)
    with pytest.raises(ValueError, match="restyled"):
        digit_detector.make_windows(np.random.default_rng(0), *digits, 4, restyled=1.5)
    with pytest.raises(ValueError, match="backgrounds"):
        digit_detector.make_windows(np.random.default_rng(0), *digits, 4, backgrounds=("stripes",))
    with pytest.raises(ValueError, match="n must"):
        digit_detector.make_windows(np.random.default_rng(0), *digits, 0)
    with pytest.raises(ValueError, match="labels"):
        digit_detector.make_windows(np.random.default_rng(0), digits[0], digits[1] + 5, 4)


@pytest.mark.parametrize("settings", [{}, {"backgrounds": scenes.BACKGROUND_KINDS, "restyled": 0.5}])
def test_windows_are_the_ones_drawn_one_after_another(digits, settings):
    """Drawing every window's numbers first and rendering them apart gives exactly the sequential windows."""
    from sequential_windows import sequential_windows

    strokes = np.random.default_rng(7).integers(0, 256, (20, 28, 28)).astype(np.uint8) & digits[0]
    expected_rng, rng = np.random.default_rng(5), np.random.default_rng(5)
    expected = sequential_windows(expected_rng, strokes, digits[1], 300, **settings)
    made = digit_detector.make_windows(rng, strokes, digits[1], 300, workers=1, **settings)
    assert all(np.array_equal(a, b) for a, b in zip(made, expected))
    assert rng.random() == expected_rng.random()                    # the generator is left where it was left


def test_windows_do_not_depend_on_the_number_of_workers(digits):
    alone = digit_detector.make_windows(np.random.default_rng(3), *digits, 2500, workers=1)
    shared = digit_detector.make_windows(np.random.default_rng(3), *digits, 2500, workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(alone, shared))
    with pytest.raises(ValueError, match="workers"):
        digit_detector.make_windows(np.random.default_rng(0), *digits, 4, workers=0)


def test_background_targets_say_background_without_a_box():
    y = digit_detector.background_targets(3)
    assert y.shape == (3, 6) and (y[:, 0] == digit_detector.BACKGROUND).all() and (y[:, 1:] == 0).all()
    with pytest.raises(ValueError, match="negative"):
        digit_detector.background_targets(-1)


def test_window_net_is_fully_convolutional():
    net = digit_detector.build_detector_net(seed=0)
    assert net.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0).shape == (1, 1, 1, 15)
    # a 28 + 4k window grid: one output per 4 pixels
    assert net.predict(np.zeros((1, 60, 44, 1), np.float32), verbose=0).shape == (1, 9, 5, 15)


def test_a_window_of_the_big_image_scores_as_the_window_alone():
    rng = np.random.default_rng(2)
    net = digit_detector.build_detector_net(seed=0)
    image = rng.uniform(0, 1, (1, 60, 60, 1)).astype(np.float32)
    full = net.predict(image, verbose=0)
    window = net.predict(image[:, 8:36, 12:40], verbose=0)            # the window at row 8, column 12
    assert np.allclose(full[0, 2, 3], window[0, 0, 0], atol=1e-5)


def test_one_output_sees_26_pixels_of_its_28_pixel_window():
    import tensorflow as tf

    net = digit_detector.build_detector_net(seed=0)
    image = tf.Variable(np.random.default_rng(0).uniform(0, 1, (1, 28, 28, 1)).astype(np.float32))
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(net(image)[0, 0, 0])
    seen = np.nonzero(np.abs(tape.gradient(out, image).numpy()[0, ..., 0]).sum(axis=1))[0]
    assert seen.min() == 0 and seen.max() == 25                       # rows 26 and 27 are dropped by pooling


def test_loss_is_cross_entropy_plus_box_error_for_digits_only():
    import keras

    y_true = np.array([[3, 0.1, 0.2, 0.9, 0.8, 1.0], [10, 0, 0, 0, 0, 0]], np.float32)
    y_pred = np.zeros((2, 1, 1, 15), np.float32)
    y_pred[:, 0, 0, 11:] = [0.2, 0.2, 0.7, 0.7]
    cross_entropy = np.log(11.0)                                      # 11 equal logits
    assert np.allclose(digit_detector.class_loss(y_true, y_pred), [cross_entropy, cross_entropy], atol=1e-5)
    assert np.allclose(digit_detector.box_loss(y_true, y_pred), [0.1 + 0.0 + 0.2 + 0.1, 0.0], atol=1e-6)
    total = keras.ops.convert_to_numpy(digit_detector.detection_loss(y_true, y_pred))
    assert np.allclose(total, [cross_entropy + digit_detector.BOX_WEIGHT * 0.4, cross_entropy], atol=1e-5)


@pytest.mark.parametrize("settings", [{"epochs": 0}, {"n_windows": 0}, {"batch_size": 0}, {"n_windows_2": 0},
                                      {"epochs_2": 0}, {"mining_scenes": -1}, {"learning_rate": 0.0},
                                      {"learning_rate_2": -1.0}, {"decay_at": 0.0}, {"decay_at": 1.5}])
def test_config_rejects_bad_settings(settings):
    with pytest.raises(ValueError, match="must be at least|need learning rates"):
        digit_detector.TrainingConfig(**settings)


def test_config_key_changes_with_settings():
    config = digit_detector.TrainingConfig
    assert config().key() != config(epochs=1).key() != config(mining_scenes=3).key()
    assert config().key() != config(version=digit_detector.TRAINING_VERSION - 1).key()
    assert config().key() == config().key()


def test_learning_rate_drops_tenfold_after_decay_at_in_each_stage():
    config = digit_detector.TrainingConfig(epochs=2, epochs_2=1, batch_size=32, learning_rate=1e-2,
                                           learning_rate_2=1e-3, decay_at=0.5)
    schedule = digit_detector.rate_schedule(config, n_windows=64)             # 2 steps per epoch, 4 in all
    assert [round(float(schedule(step)), 6) for step in range(4)] == [1e-2, 1e-2, 1e-3, 1e-3]
    second = digit_detector.rate_schedule(config, n_windows=128, stage="hard_negatives")   # 4 steps
    assert [round(float(second(step)), 7) for step in range(4)] == [1e-3, 1e-3, 1e-4, 1e-4]
    with pytest.raises(ValueError, match="n_windows"):
        digit_detector.rate_schedule(config, n_windows=0)
    with pytest.raises(ValueError, match="stage"):
        digit_detector.rate_schedule(config, n_windows=8, stage="third")


def test_pyramid_has_four_levels_each_smaller_by_the_ratio():
    levels = digit_detector.pyramid(np.zeros((1, 512, 512, 3), np.float32))
    sides = [int(size[0]) for _, size in levels]
    assert sides == [round(512 * scale) for scale in digit_detector.LEVEL_SCALES] == [448, 332, 246, 182]
    assert all(level.shape == (1, side, side, 1) for (level, _), side in zip(levels, sides))


def test_hard_negatives_are_windows_that_touch_no_digit():
    net = digit_detector.build_detector_net(seed=0)
    image = np.random.default_rng(0).uniform(0, 1, (96, 96, 3)).astype(np.float32)
    empty = scenes.Scene(image, np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    covered = scenes.Scene(image, np.array([[0, 0, 1, 1]], np.float32), np.array([3]))
    windows, seen_as, scores = digit_detector.mine_hard_negatives(net, [empty], min_score=0.0, per_scene=5)
    assert windows.shape == (5, 28, 28, 1) and seen_as.shape == scores.shape == (5,)
    assert (np.diff(scores) <= 0).all() and ((0 <= seen_as) & (seen_as <= 9)).all()
    crops = [level[0, r:r + 28, c:c + 28].numpy() for level, (h, w) in digit_detector.pyramid(image[None])
             for r in range(0, int(h) - 27, 4) for c in range(0, int(w) - 27, 4)]
    assert all(any(np.array_equal(window, crop) for crop in crops) for window in windows)   # pyramid windows
    assert digit_detector.mine_hard_negatives(net, [covered], min_score=0.0)[0].shape == (0, 28, 28, 1)
    assert digit_detector.mine_hard_negatives(net, [empty], min_score=1.0)[0].shape[0] == 0
    with pytest.raises(ValueError, match="min_score"):
        digit_detector.mine_hard_negatives(net, [empty], min_score=2.0)


def test_cached_stage_round_trips(digits):
    config, net, history = tiny_net(digits)
    assert digit_detector.load_cached(config, "plain") is None
    saved, info = digit_detector.save_cached(config, "plain", net, history.history, seconds=1.5, windows=64)
    assert saved is net and not info["cached"] and info["windows"] == 64
    loaded, loaded_info = digit_detector.load_cached(config, "plain", verbose=False)
    assert loaded_info["cached"] and loaded_info["history"]["loss"] == pytest.approx(history.history["loss"])
    assert loaded_info["train_seconds"] == 1.5
    probe = np.random.default_rng(0).uniform(0, 1, (1, 40, 40, 1)).astype(np.float32)
    assert np.allclose(loaded.predict(probe, verbose=0), net.predict(probe, verbose=0))
    assert digit_detector.load_cached(config, "hard_negatives") is None
    with pytest.raises(ValueError, match="stage"):
        digit_detector.load_cached(config, "final")
    with pytest.raises(ValueError, match="history"):
        digit_detector.save_cached(config, "plain", net, {}, seconds=1.0)


def test_exported_detector_has_the_faster_rcnn_contract(digits):
    """A tiny training run, exported once, loaded with tensorflow_hub.load like the real model."""
    import shutil

    import tensorflow as tf
    import tensorflow_hub as hub

    config, net, _ = tiny_net(digits)
    path = digit_detector.exported(config, net, "plain")
    assert path.name == f"plain_saved_model_v{digit_detector.EXPORT_VERSION}" and (path / "saved_model.pb").is_file()
    stamp = (path / "saved_model.pb").stat().st_mtime_ns
    assert digit_detector.exported(config, net, "plain") == path and (path / "saved_model.pb").stat().st_mtime_ns == stamp
    shutil.rmtree(path)                                  # a removed export is written again
    assert (digit_detector.exported(config, net, "plain") / "saved_model.pb").is_file()

    model = hub.load(str(path))
    run = model.signatures["default"]
    spec = run.structured_input_signature[1]["images"]
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [1, None, None, 3]
    out = run(images=tf.zeros([1, 96, 128, 3]))
    assert set(out) == set(detection.OUTPUT_KEYS)
    assert {key: value.dtype.name for key, value in out.items()} == detection.OUTPUT_DTYPES
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
    with pytest.raises(ValueError, match="stage"):
        digit_detector.exported(config, net, "final")


def fake_detector(boxes, labels, scores):
    """A stand-in for a detector's `default` function that always answers the given detections."""
    def run(images):
        return {"detection_boxes": np.array(boxes, np.float32).reshape(-1, 4),
                "detection_scores": np.array(scores, np.float32),
                "detection_class_labels": np.array(labels, np.int64) + 1,
                "detection_class_entities": np.array([f"digit {d}" for d in labels], object),
                "detection_class_names": np.array([f"/course/digit_{d}" for d in labels], object)}
    return run


def test_detections_are_matched_best_first_and_counted_at_a_threshold():
    image = np.zeros((64, 64, 3), np.float32)
    scene = scenes.Scene(image, np.array([[0.1, 0.1, 0.4, 0.4], [0.6, 0.6, 0.9, 0.9]], np.float32), np.array([3, 5]))
    run = fake_detector([[0.1, 0.1, 0.4, 0.4], [0.1, 0.1, 0.4, 0.4], [0.6, 0.6, 0.9, 0.9], [0.0, 0.6, 0.2, 0.9]],
                        [3, 3, 7, 1], [0.95, 0.92, 0.8, 0.3])
    found = digit_detector.detect_all(run, [scene, scene])
    assert found.hits.tolist() == [True, False, False, False] * 2      # a duplicate and a wrong digit miss
    assert found.digits == 4 and len(found.seconds) == 2 and found.scene.tolist() == [0] * 4 + [1] * 4
    assert digit_detector.most_false(found, 0.9) == 0 and digit_detector.most_false(found, 0.99) == 0
    at = digit_detector.recall_precision(found, 0.9)
    assert (at["recall"], at["precision"], at["detections"], at["false_positives"]) == (0.5, 0.5, 4, 2)
    assert digit_detector.evaluate(run, [scene], min_score=0.0)["precision"] == 0.25
    with pytest.raises(ValueError, match="scene"):
        digit_detector.detect_all(run, [])
    with pytest.raises(ValueError, match="min_score"):
        digit_detector.recall_precision(found, 1.5)
    with pytest.raises(ValueError, match="min_score"):
        digit_detector.most_false(found, -0.1)
    other = scenes.Scene(image, np.zeros((0, 4), np.float32), np.zeros(0, np.int64))   # no digits: all 3 are false
    assert digit_detector.most_false(digit_detector.detect_all(run, [scene, other]), 0.5) == 1


def test_boxes_nested_with_better_boxes_are_flagged():
    import tensorflow as tf

    boxes = tf.constant([[0.2, 0.2, 0.5, 0.5], [0.25, 0.25, 0.35, 0.35], [0.1, 0.1, 0.6, 0.7], [0.6, 0.6, 0.9, 0.9],
                         [0.85, 0.85, 1.0, 1.0]])
    # a part inside the best box, a box around it, a separate box, and one touching two boxes a little
    assert digit_detector.nested_with_better_box(boxes).numpy().tolist() == [False, True, True, False, False]
    assert digit_detector.nested_with_better_box(boxes, fraction=0.05).numpy().tolist()[-1]
    classes, agreement = digit_detector.vote(boxes[:1], boxes[:2], tf.constant([0.9, 0.5]), tf.one_hot([3, 3], 10))
    assert classes.numpy().tolist() == [3] and np.isclose(agreement.numpy()[0], 1.0)
