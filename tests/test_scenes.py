"""Tests of helpers.scenes: the training generator's scenes, scenes made another way, printed digits."""

import numpy as np
import pytest

from helpers import detection, scenes


@pytest.fixture
def digits():
    """Twenty fake 28x28 digits: a filled square of ink in the middle, labels 0..9 twice."""
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 8:20, 10:18] = 255
    return images, np.arange(20) % 10


def test_scene_has_boxes_around_the_ink(digits):
    rng = np.random.default_rng(0)
    scene = scenes.make_scene(rng, *digits, size=256, count=(3, 3))
    assert scene.image.shape == (256, 256, 3) and scene.image.dtype == np.float32
    assert 0 <= scene.image.min() and scene.image.max() <= 1
    assert len(scene.boxes) == len(scene.labels) >= 1
    detection.check_boxes(scene.boxes)
    overlaps = detection.iou(scene.boxes, scene.boxes)
    assert np.allclose(overlaps, np.eye(len(scene.boxes)))          # digits never overlap
    for box in scene.boxes:                                          # the box is where the ink differs
        top, left, bottom, right = np.round(box * 256).astype(int)
        assert bottom - top >= 0.3 * scenes.FRAME_RANGE[0] * 12 / 28


def test_scene_is_reproducible_from_its_seed(digits):
    one = scenes.make_scene(np.random.default_rng(5), *digits, size=200)
    two = scenes.make_scene(np.random.default_rng(5), *digits, size=200)
    assert np.array_equal(one.image, two.image) and np.array_equal(one.boxes, two.boxes)


@pytest.mark.parametrize("kind", scenes.BACKGROUND_KINDS)
def test_every_background_kind_is_an_rgb_image_in_range(kind):
    image = scenes.make_background(np.random.default_rng(3), 40, 60, kind)
    assert image.shape == (40, 60, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1


def test_plain_backgrounds_are_flat_and_noise_backgrounds_are_not():
    rng = np.random.default_rng(4)
    plain = [scenes.make_background(rng, 64, 64, "plain").std(axis=(0, 1)).max() for _ in range(5)]
    noise = [scenes.make_background(rng, 64, 64, "noise").std(axis=(0, 1)).min() for _ in range(5)]
    assert max(plain) <= 0.021 and min(noise) >= 0.025


def test_scene_backgrounds_are_drawn_from_the_kinds_asked(digits):
    rng = np.random.default_rng(6)
    flat = [scenes.make_scene(rng, *digits, size=128, count=(0, 0), backgrounds=("plain",)).image for _ in range(3)]
    assert all(image.std(axis=(0, 1)).max() <= 0.03 for image in flat)
    with pytest.raises(ValueError, match="backgrounds"):
        scenes.make_scene(rng, *digits, size=128, backgrounds=())
    with pytest.raises(ValueError, match="kind"):
        scenes.make_scene(rng, *digits, size=128, backgrounds=("stripes",))


def test_pasted_digit_box_is_exact():
    image = np.zeros((100, 100, 3), np.float32)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 10:18] = 255
    box = scenes.paste_digit(image, digit, 28, (50, 50), np.random.default_rng(0))
    assert box.tolist() == [40, 46, 60, 54]
    assert scenes.paste_digit(image, digit, 28, (500, 500), np.random.default_rng(0)) is None


def test_a_given_colour_is_used_as_is():
    gray = np.zeros((60, 60), np.float32)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 10:18] = 255
    scenes.paste_digit(gray, digit, 28, (30, 30), np.random.default_rng(0), colour=1.0)
    assert gray.max() == 1.0 and gray[20:40, 26:34].min() == 1.0


@pytest.mark.parametrize("background", ["black", "noise"])
def test_white_digit_scenes_are_white_ink_on_their_background(digits, background):
    scene = scenes.make_white_digit_scene(np.random.default_rng(1), *digits, background=background, size=256, count=3)
    assert scene.image.shape == (256, 256, 3) and scene.image.dtype == np.float32
    assert np.array_equal(scene.image[..., 0], scene.image[..., 2])          # gray, repeated into RGB
    assert len(scene.labels) == len(scene.boxes) == 3
    assert np.allclose(detection.iou(scene.boxes, scene.boxes), np.eye(3))
    outside = np.ones((256, 256), bool)
    for top, left, bottom, right in np.round(scene.boxes * 256).astype(int):
        assert scene.image[top:bottom, left:right, 0].max() == 1.0             # white ink inside every box
        outside[max(top - 8, 0):bottom + 8, max(left - 8, 0):right + 8] = False
    behind = scene.image[outside, 0]
    if background == "black":
        assert behind.max() == 0.0
    else:
        assert 0.0 <= behind.min() and behind.max() <= 0.3 and behind.std() > 0.05


def test_white_digit_scene_frames_follow_the_range(digits):
    scene = scenes.make_white_digit_scene(np.random.default_rng(2), *digits, size=512, count=5, frame_range=(56, 56))
    heights = (scene.boxes[:, 2] - scene.boxes[:, 0]) * 512
    assert np.allclose(heights, 24, atol=1)                     # the 12-row ink of a 28-row frame, at 56 pixels


@pytest.mark.parametrize("settings, message", [({"background": "gray"}, "background"),
                                               ({"frame_range": (90, 40)}, "frame_range"),
                                               ({"size": 60}, "frame_range"),
                                               ({"count": -1}, "count"),
                                               ({"noise_max": 2.0}, "noise_max")])
def test_white_digit_scene_rejects_bad_settings(digits, settings, message):
    with pytest.raises(ValueError, match=message):
        scenes.make_white_digit_scene(np.random.default_rng(0), *digits, **settings)


@pytest.mark.parametrize("bad", [np.zeros((3, 28)), np.zeros((0, 28, 28)), np.zeros((2, 20, 20))])
def test_bad_digits_are_rejected(bad):
    with pytest.raises(ValueError, match="digits"):
        scenes.make_scene(np.random.default_rng(0), bad, np.zeros(len(bad), int))


def test_bad_labels_sizes_and_counts_are_rejected(digits):
    images, labels = digits
    with pytest.raises(ValueError, match="labels"):
        scenes.make_scene(np.random.default_rng(0), images, labels + 5)
    with pytest.raises(ValueError, match="size"):
        scenes.make_scene(np.random.default_rng(0), images, labels, size=50)
    with pytest.raises(ValueError, match="count"):
        scenes.make_scene(np.random.default_rng(0), images, labels, count=(3, 1))
    with pytest.raises(ValueError, match="positive"):
        scenes.make_background(np.random.default_rng(0), 0, 5)


def test_printed_digits_are_framed_like_mnist():
    images, labels = scenes.printed_digits(np.random.default_rng(0), 30)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and labels.shape == (30,)
    assert set(labels.tolist()) <= set(range(10)) and len(set(labels.tolist())) > 5
    for image in images:
        rows, cols = np.nonzero(image)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21     # fits a 20x20 box
        mass = image / image.sum()
        centre = [(mass.sum(1) * np.arange(28)).sum(), (mass.sum(0) * np.arange(28)).sum()]
        assert np.allclose(centre, 14, atol=1.5)                                   # centre of mass in the middle
    with pytest.raises(ValueError, match="n must"):
        scenes.printed_digits(np.random.default_rng(0), 0)


def test_luminance_uses_tensorflows_weights():
    assert np.isclose(scenes.luminance(np.ones(3)), 1.0, atol=1e-4)
    assert np.isclose(scenes.luminance(np.array([1.0, 0.0, 0.0])), 0.2989)


def test_restyle_turns_slants_and_changes_strokes_but_keeps_the_frame():
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255                                                   # a "1": a vertical bar
    rng = np.random.default_rng(0)
    styled = [scenes.restyle(digit, rng) for _ in range(20)]
    assert all(image.shape == (28, 28) and image.dtype == np.uint8 and image.max() > 0 for image in styled)
    assert sum(not np.array_equal(image, digit) for image in styled) == 20
    ink = [int((image > 127).sum()) for image in styled]
    assert min(ink) < (digit > 127).sum() < max(ink)                         # thinner and thicker strokes
    with pytest.raises(ValueError, match="28x28"):
        scenes.restyle(np.zeros((20, 20), np.uint8), rng)


def test_placement_gives_the_visible_part_of_a_square():
    assert scenes.placement(10, (5.0, 5.0), 20, 20) == (0, 0, 0, 0, 10, 10)
    assert scenes.placement(10, (0.0, 18.0), 20, 20) == (-5, 13, 0, 13, 5, 20)       # cut at the top and right
    assert scenes.placement(10, (-6.0, 5.0), 20, 20) is None                          # wholly above the image


def test_gray_colour_stands_out_and_always_draws_two_numbers():
    for behind in (0.0, 0.2, 0.5, 0.9, 1.0):
        rng, twin = np.random.default_rng(1), np.random.default_rng(1)
        colour = scenes.gray_colour(rng, behind)
        assert abs(colour - behind) >= 0.35 - 1e-12 and 0 <= colour <= 1
        twin.random(2)
        assert rng.random() == twin.random()


def test_ink_side_rounds_and_keeps_two_pixels():
    assert scenes.ink_side(27.6) == 28 and scenes.ink_side(0.4) == 2
