"""Unit tests of helpers.images: checks, grayscale recipes, convolution and pooling against TF and OpenCV."""

import numpy as np
import pytest

from helpers import images


@pytest.fixture
def rgb(rng):
    """A maker of random uint8 images: rgb(height, width, channels)."""
    return lambda height=5, width=6, channels=3: rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)


# --- checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, error, words",
    [
        ([[1, 2], [3, 4]], TypeError, "image must be a numpy array, got list"),
        (np.zeros((2, 2, 2, 2)), ValueError, "must have shape (height, width) or (height, width, channels)"),
        (np.zeros(5), ValueError, "got shape (5,)"),
        (np.zeros((0, 3)), ValueError, "image is empty (shape (0, 3))"),
        (np.array([["a", "b"]]), TypeError, "must hold numbers, got dtype <U1"),
    ],
)
def test_check_image_rejects_bad_input_with_a_clear_message(bad, error, words):
    with pytest.raises(error) as info:
        images.check_image(bad)
    assert words in str(info.value)


def test_check_image_returns_valid_images_unchanged():
    image = np.zeros((2, 3), dtype=bool)
    assert images.check_image(image) is image
    with pytest.raises(ValueError, match="must have shape 4-D"):
        images.check_image(image, ndim=(4,))


def test_check_rgb_rejects_two_channels():
    with pytest.raises(ValueError, match="3 \\(RGB\\) or 4 \\(RGBA\\)"):
        images.check_rgb(np.zeros((2, 2, 2)))


def test_check_kernel_accepts_lists_and_enforces_odd_size():
    assert images.check_kernel([[1, 0], [0, 1]]).dtype == np.float64
    with pytest.raises(ValueError, match="odd height and width.*\\(2, 2\\)"):
        images.check_kernel(np.ones((2, 2)), odd=True)
    with pytest.raises(ValueError, match="kernel must have shape"):
        images.check_kernel(np.ones(3))


# --- channels and size --------------------------------------------------------


def test_drop_alpha_keeps_rgb(rgb):
    rgba = rgb(channels=4)
    assert np.array_equal(images.drop_alpha(rgba), rgba[..., :3])
    plain = rgb()
    assert np.array_equal(images.drop_alpha(plain), plain)


def test_resize_takes_height_then_width(rgb):
    image = rgb(40, 60)
    small = images.resize(image, height=10, width=20)
    assert small.shape == (10, 20, 3) and small.dtype == np.uint8
    assert images.resize(image.astype(np.float64) / 255, 4, 6).dtype == np.float32
    flat = np.full((8, 8), 7, dtype=np.uint8)
    assert np.array_equal(images.resize(flat, 2, 4), np.full((2, 4), 7))  # area averaging keeps a flat image
    with pytest.raises(ValueError, match="height must be >= 1"):
        images.resize(image, 0, 5)
    with pytest.raises(TypeError, match="width must be an int"):
        images.resize(image, 5, 2.5)


# --- grayscale ----------------------------------------------------------------


def test_grayscale_methods_agree_on_gray_pixels_and_differ_on_colour():
    gray_pixel = np.full((1, 1, 3), 100, dtype=np.uint8)
    for convert in (images.grayscale_mean, images.grayscale_luminosity, images.grayscale_channel):
        assert convert(gray_pixel)[0, 0] == pytest.approx(100)
    green = np.zeros((1, 1, 3), dtype=np.uint8)
    green[..., 1] = 255
    assert images.grayscale_mean(green)[0, 0] == pytest.approx(85)
    assert images.grayscale_luminosity(green)[0, 0] == pytest.approx(0.587 * 255)
    assert images.grayscale_luminosity(green, "bt709")[0, 0] == pytest.approx(0.7152 * 255)
    assert images.grayscale_luminosity(green, "skimage")[0, 0] == pytest.approx(0.7154 * 255)
    assert images.grayscale_channel(green, 0)[0, 0] == 0 and images.grayscale_channel(green, 1)[0, 0] == 255


def test_grayscale_matches_pil_and_skimage(rgb):
    from PIL import Image
    from skimage.color import rgb2gray

    image = rgb(8, 8)
    pil_gray = np.asarray(Image.fromarray(image).convert("L"))
    assert np.abs(images.grayscale_luminosity(image) - pil_gray).max() <= 1.0
    assert np.allclose(images.grayscale_luminosity(image, "skimage") / 255, rgb2gray(image), atol=1e-6)


def test_grayscale_bad_arguments(rgb):
    with pytest.raises(ValueError, match="standard must be one of"):
        images.grayscale_luminosity(rgb(), "bt2020")
    with pytest.raises(ValueError, match="channel must be 0, 1 or 2"):
        images.grayscale_channel(rgb(), 3)
    with pytest.raises(ValueError, match="\\(height, width, channels\\)"):
        images.grayscale_mean(np.zeros((3, 3)))


# --- convolution --------------------------------------------------------------


@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [
        (28, 3, 1, "valid", 26),
        (28, 3, 1, "same", 28),
        (28, 3, 2, "same", 14),
        (7, 3, 2, "valid", 3),
        (4, 3, 1, 1, 4),
        (5, 2, 2, "same", 3),
        (5, 5, 1, "valid", 1),
    ],
)
def test_conv_output_size_formula(size, kernel, stride, padding, expected):
    assert images.conv_output_size(size, kernel, stride, padding) == expected


def test_conv_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride must be >= 1"):
        images.conv_output_size(5, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be"):
        images.conv_output_size(5, 3, padding="full")
    with pytest.raises(ValueError, match="padding must be"):
        images.conv_output_size(5, 3, padding=-1)
    with pytest.raises(ValueError, match="larger than the padded input"):
        images.conv_output_size(2, 3)
    with pytest.raises(TypeError, match="kernel must be an int"):
        images.conv_output_size(5, 3.0)
    with pytest.raises(TypeError, match="size must be an int, got bool"):
        images.conv_output_size(True, 1)


def test_correlate2d_by_hand():
    image = np.arange(16).reshape(4, 4)
    kernel = np.array([[1, 0], [0, -1]])
    # each output = top-left minus bottom-right of its 2x2 window = -5
    assert np.array_equal(images.correlate2d(image, kernel), np.full((3, 3), -5.0))
    assert images.correlate2d(image, kernel, stride=2).shape == (2, 2)


def test_convolve2d_flips_the_kernel_like_scipy(rng):
    from scipy.signal import convolve2d

    image = rng.normal(size=(6, 6))
    kernel = rng.normal(size=(3, 3))
    assert np.allclose(images.convolve2d(image, kernel), images.correlate2d(image, kernel[::-1, ::-1]))
    assert np.allclose(images.convolve2d(image, kernel), convolve2d(image, kernel, mode="valid"))


def test_same_padding_puts_the_odd_zero_at_the_end():
    padded = images.pad2d(np.ones((5, 5)), (2, 2), stride=1, padding="same")
    assert padded.shape == (6, 6)
    assert padded[-1].sum() == 0 and padded[0].sum() == 5
    assert images.pad2d(np.ones((2, 2, 3)), (3, 3), padding=1).shape == (4, 4, 3)  # channels are not padded


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel_size", [2, 3, 5])
def test_conv2d_layer_matches_tensorflow(rng, stride, padding, kernel_size):
    import tensorflow as tf

    inputs = rng.normal(size=(9, 8, 2)).astype(np.float32)
    kernels = rng.normal(size=(kernel_size, kernel_size, 2, 3)).astype(np.float32)
    expected = tf.nn.conv2d(inputs[None], kernels, strides=stride, padding=padding.upper())[0].numpy()
    ours = images.conv2d_layer(inputs, kernels, stride, padding)
    assert ours.shape == expected.shape
    assert np.allclose(ours, expected, atol=1e-4)


def test_conv2d_layer_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="expect 3 input channels but inputs have 2"):
        images.conv2d_layer(np.zeros((4, 4, 2)), np.zeros((3, 3, 3, 1)))
    with pytest.raises(ValueError, match="\\(kh, kw, in_channels, out_channels\\), got \\(3, 3\\)"):
        images.conv2d_layer(np.zeros((4, 4, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="got None"):
        images.conv2d_layer(np.zeros((4, 4, 2)), [[1.0]])


def test_apply_kernel_keeps_size_and_matches_opencv(rgb):
    import cv2

    image = rgb(12, 10).astype(np.float32)
    kernel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
    ours = images.apply_kernel(image, kernel)
    theirs = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    assert ours.shape == image.shape
    assert np.allclose(ours, theirs, atol=1e-3)
    assert np.allclose(images.apply_kernel(image[..., 0], kernel), theirs[..., 0], atol=1e-3)
    with pytest.raises(ValueError, match="odd height and width"):
        images.apply_kernel(image, np.ones((2, 2)))


# --- pooling -----------------------------------------------------------------


def test_pool2d_by_hand():
    x = np.array([[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]])
    assert images.pool2d(x).tolist() == [[4, 8], [12, 16]]
    assert images.pool2d(x, mode="min").tolist() == [[1, 5], [9, 13]]
    assert images.pool2d(x, mode="mean").tolist() == [[2.5, 6.5], [10.5, 14.5]]
    assert images.pool2d(x, size=3, stride=1).tolist() == [[13, 14], [15, 16]]
    assert images.pool2d(np.ones((5, 5))).shape == (2, 2)  # leftovers dropped


def test_pool2d_matches_keras_max_pooling(rng):
    import keras

    x = rng.normal(size=(7, 9)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(2)(x[None, ..., None]))[0, ..., 0]
    assert np.allclose(images.pool2d(x), expected)


def test_pool2d_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        images.pool2d(np.ones((4, 4)), mode="median")
    with pytest.raises(ValueError, match="stride must be >= 1"):
        images.pool2d(np.ones((4, 4)), stride=0)
    with pytest.raises(ValueError, match="\\(height, width\\)"):
        images.pool2d(np.ones((4, 4, 3)))
