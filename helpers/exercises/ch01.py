"""Chapter 01's exercises: one channel as gray, (row, column) against (x, y), value ranges, resizing, argmax."""

from __future__ import annotations

from functools import cache

import numpy as np

from helpers.exercises import NotYet, as_array, as_choice, exercise

CAT_SHAPE = (300, 451, 3)
COFFEE_SHAPE = (400, 600, 3)
PIXEL_X, PIXEL_Y = 250, 100


@cache
def _cat() -> np.ndarray:
    """Chelsea the cat, the chapter's `cat` (read-only)."""
    from skimage import data

    cat = data.chelsea()
    cat.setflags(write=False)
    return cat


@cache
def _coffee() -> np.ndarray:
    """The coffee cup photo (read-only)."""
    from skimage import data

    coffee = data.coffee()
    coffee.setflags(write=False)
    return coffee


@cache
def _luminosity() -> np.ndarray:
    """The chapter's luminosity (BT.601) version of the cat."""
    from helpers import images

    return images.grayscale_luminosity(_cat())


def _same(answer: np.ndarray, reference: np.ndarray, tolerance: float = 1e-6) -> bool:
    """Same shape and values (within `tolerance`)."""
    return answer.shape == reference.shape and bool(np.allclose(answer, reference, atol=tolerance, rtol=0))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays (0 if either is flat)."""
    a, b = a.astype(np.float64).ravel() - a.mean(), b.astype(np.float64).ravel() - b.mean()
    norm = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / norm) if norm else 0.0


@exercise(
    "01.1",
    why="Luminosity weighs green most (0.587 of the brightness, against 0.299 for red), because our eyes are "
        "most sensitive to green: the green channel alone is the closest one-channel stand-in for brightness.",
    hint="A channel is the last axis: cat[:, :, 1] (or cat[..., 1]) is green. To compare, take the mean absolute "
         'difference of each channel from gray["luminosity (BT.601)"].',
    scaffold='green = ...  # the green channel of `cat` alone: a 2-D array\n'
             'closer = ...  # which lies closer to the luminosity version, measured: "green" or "red"?',
    solution='green = cat[:, :, 1]\n'
             'to_luminosity = {name: np.abs(channel - gray["luminosity (BT.601)"]).mean()\n'
             '                 for name, channel in (("green", green), ("red", gray["red channel only"]))}\n'
             'print("mean |channel - luminosity|:", ", ".join(f"{name} {d:.1f}" for name, d in to_luminosity.items()))\n'
             'closer = min(to_luminosity, key=to_luminosity.get)  # luminosity = 0.299 R + 0.587 G + 0.114 B\n'
             'one_channel = {"green channel only": green, "luminosity (BT.601)": gray["luminosity (BT.601)"],\n'
             '               "red channel only": gray["red channel only"]}\n'
             'fig = plots.compare_images(one_channel, size=3.5, suptitle="which one-channel gray is closest?",\n'
             '                           vmin=0, vmax=255)',
)
def green_channel(green, closer):
    """The green channel as a 2-D array, and which channel is closer to the luminosity version."""
    green = as_array(green, "green")
    rows, cols, _ = CAT_SHAPE
    if green.shape == CAT_SHAPE:
        raise NotYet(f"`green` has shape {green.shape}: that is still the whole colour image; "
                     "take one channel, the last axis: cat[:, :, 1]")
    if green.shape == (cols, 3):
        raise NotYet(f"`green` has shape {green.shape}, one row of pixels: cat[1] takes row 1. "
                     "The channel is the last axis: cat[:, :, 1]")
    if green.shape == (rows, 3):
        raise NotYet(f"`green` has shape {green.shape}, one column of pixels: cat[:, 1] takes column 1. "
                     "The channel is the last axis: cat[:, :, 1]")
    if green.shape != (rows, cols):
        raise NotYet(f"`green` should be 2-D with the cat's height and width, {(rows, cols)}, got {green.shape}")
    cat = _cat()
    for index, name in ((0, "red"), (2, "blue")):
        if _same(green, cat[:, :, index]):
            raise NotYet(f"this is the {name} channel (index {index}); channels run red 0, green 1, blue 2")
    if _same(green, cat[:, :, 1] / 255, 1e-4):
        raise NotYet("these are the green values scaled to 0-1; keep them 0-255 (cat[:, :, 1]) so they compare "
                     "with the other gray versions on one scale")
    if _same(green, _luminosity(), 1e-3):
        raise NotYet("this is the luminosity version itself; `green` should be the green channel alone")
    if not _same(green, cat[:, :, 1]):
        difference = np.abs(green.astype(np.float64) - cat[:, :, 1]).mean()
        raise NotYet(f"`green` differs from the cat's green channel by {difference:.1f} on average: "
                     "take it unchanged, cat[:, :, 1]")
    if as_choice(closer, "closer", ("green", "red")) == "red":
        lum = _luminosity()
        measured = {name: float(np.abs(cat[:, :, index] - lum).mean()) for index, name in ((1, "green"), (0, "red"))}
        raise NotYet(f"measured, the green channel lies {measured['green']:.1f} gray levels from the luminosity "
                     f"version on average and the red one {measured['red']:.1f}: compute "
                     'np.abs(green - gray["luminosity (BT.601)"]).mean() and the same for gray["red channel only"]')


@exercise(
    "01.2",
    why="An image viewer says width x height and Pillow's size is (width, height), but NumPy indexes "
        "[row, column] = [y, x]: swapping them is one of the commonest image bugs, and on a square image it "
        "fails silently.",
    hint="Height is the number of rows and comes first in a NumPy shape. The pixel at x, y is coffee[y, x].",
    scaffold="coffee = data.coffee()  # a photo 600 pixels wide and 400 high\n"
             "coffee_shape = ...  # predict coffee.shape before you print it\n"
             "coffee_pixel = ...  # the RGB value at x = 250, y = 100",
    solution="coffee = data.coffee()\n"
             "coffee_shape = (400, 600, 3)  # (rows = height, columns = width, channels)\n"
             "coffee_pixel = coffee[100, 250]  # [row = y, column = x]\n"
             "assert coffee.shape == coffee_shape",
)
def coffee_indexing(coffee_shape, coffee_pixel):
    """The coffee photo's shape and the pixel at x = 250, y = 100."""
    rows, cols, channels = COFFEE_SHAPE
    if not isinstance(coffee_shape, (tuple, list)) or not all(isinstance(n, (int, np.integer)) for n in coffee_shape):
        raise NotYet(f"`coffee_shape` should be a tuple of whole numbers like coffee.shape, got {coffee_shape!r}")
    shape = tuple(int(n) for n in coffee_shape)
    if shape == (cols, rows, channels):
        raise NotYet(f"{shape} is (width, height, channels): a NumPy shape starts with the rows, the height")
    if shape == (cols, rows):
        raise NotYet(f"{shape} is Pillow's Image.size, (width, height); a NumPy shape is (rows, columns, channels)")
    if shape == (rows, cols):
        raise NotYet(f"{shape} leaves out the channels: a colour image has a third axis, one entry each for R, G, B")
    if shape != COFFEE_SHAPE:
        raise NotYet(f"`coffee_shape` {shape} is not the photo's shape; it is 600 pixels wide and 400 high")
    coffee = _coffee()
    pixel = as_array(coffee_pixel, "coffee_pixel")
    if pixel.shape == (cols, channels) or pixel.shape == (rows, channels):
        line = "row" if pixel.shape[0] == cols else "column"
        raise NotYet(f"`coffee_pixel` has shape {pixel.shape}, a whole {line} of pixels; index the row and the "
                     "column together, coffee[row, column]")
    if pixel.shape != (channels,):
        raise NotYet(f"`coffee_pixel` should be 3 numbers (R, G, B), got shape {pixel.shape}")
    if np.array_equal(pixel, coffee[PIXEL_X, PIXEL_Y]):
        raise NotYet(f"that is the pixel at x = {PIXEL_Y}, y = {PIXEL_X}: x and y are swapped. NumPy indexes "
                     "[row, column], and the row is y")
    if not np.array_equal(pixel, coffee[PIXEL_Y, PIXEL_X]):
        raise NotYet(f"{pixel.tolist()} is not the value at x = {PIXEL_X}, y = {PIXEL_Y}; read it from `coffee`")


@exercise(
    "01.3",
    why="Matplotlib clips float values above 1 only for display (with the warning you saw in section 4); "
        "the array still holds them, and a network would see them: clip or rescale yourself, so the numbers "
        "hold what the picture shows.",
    hint="Convert first (util.img_as_float32(cat) gives 0-1), then multiply by 1.5, then np.clip(..., 0, 1).",
    scaffold="brighter = ...  # cat as float 0-1, times 1.5, clipped back into 0-1",
    solution="brighter = np.clip(util.img_as_float32(cat) * 1.5, 0, 1)\n"
             'fig = plots.show_images([cat01, brighter], ["float32, 0..1", "x 1.5, clipped to 0..1"], ncols=2, size=4)',
)
def brighter_cat(brighter):
    """The cat as float 0-1, 1.5 times brighter, clipped into 0-1."""
    image = as_array(brighter, "brighter")
    if image.shape != CAT_SHAPE:
        raise NotYet(f"`brighter` should have the cat's shape {CAT_SHAPE}, got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise NotYet(f"`brighter` has dtype {image.dtype}: 1.5 x a uint8 value stored back as integers wraps or "
                     "clips at 255; convert to float 0-1 first (util.img_as_float32(cat))")
    top, bottom = float(image.max()), float(image.min())
    if top > 2:
        raise NotYet(f"values run up to {top:.1f}: still the 0-255 scale; convert to 0-1 first "
                     "(util.img_as_float32(cat) or cat / 255)")
    if top > 1 + 1e-6:
        raise NotYet(f"values go up to {top:.2f}: matplotlib would clip them for display only; clip the array "
                     "yourself with np.clip(..., 0, 1)")
    if bottom < -1e-6:
        raise NotYet(f"values go down to {bottom:.2f}; a brightened image stays at or above 0")
    as_float = _cat() / 255
    if _same(image, as_float, 1e-3):
        raise NotYet("this is the cat in 0-1, not brighter: multiply by 1.5 before clipping")
    if not _same(image, np.clip(as_float * 1.5, 0, 1), 1e-3):
        difference = np.abs(image - np.clip(as_float * 1.5, 0, 1)).max()
        raise NotYet(f"`brighter` differs from 1.5 x the cat in 0-1, clipped, by up to {difference:.3f}")


@exercise(
    "01.4",
    why="28 x 28 = 784 numbers keep a digit's strokes but only the blobs of a photo: the input size limits "
        "what a network can recognise, which is why MNIST (chapter 03) gets away with so few pixels.",
    hint="Make it gray first with a recipe that weighs all three channels (images.grayscale_luminosity), "
         "then images.resize(..., height=28, width=28).",
    scaffold="tiny = ...  # the cat in grayscale (all three channels weighed), resized to 28 x 28",
    solution="tiny = images.resize(images.grayscale_luminosity(cat), height=28, width=28)\n"
             'fig = plots.show_images([cat, tiny], ["300 x 451", "28 x 28, grayscale"], ncols=2, size=3)',
)
def tiny_cat(tiny):
    """The whole cat in grayscale (a recipe that mixes R, G and B), shrunk to 28 x 28."""
    image = as_array(tiny, "tiny")
    if image.shape == (28, 28, 3) or image.shape == (28, 28, 4):
        raise NotYet(f"`tiny` has shape {image.shape}: still {image.shape[2]} colour channels; make it gray "
                     "first, e.g. images.grayscale_luminosity(cat)")
    if image.shape != (28, 28):
        raise NotYet(f"`tiny` should have shape (28, 28), got {image.shape}")
    reference = _tiny_grays()["luminosity"]
    if _correlation(image, reference) < 0.6:
        if _correlation(image, reference.T) >= 0.6:
            raise NotYet("`tiny` is the cat transposed (rows and columns swapped): cv2.resize and Pillow take "
                         "(width, height); images.resize names height and width")
        raise NotYet(f"`tiny` does not look like the whole cat shrunk (correlation "
                     f"{_correlation(image, reference):.2f} with a resized gray cat): did you crop (cat[:28, :28]) "
                     "instead of resizing?")
    levels = image.astype(np.float64) * (255 if image.max() <= 1 else 1)  # 0-1 answers count too
    distance = {name: float(np.abs(levels - gray).mean()) for name, gray in _tiny_grays().items()}
    nearest = min(distance, key=distance.get)
    if nearest in ("red", "green", "blue"):
        raise NotYet(f"`tiny` is the {nearest} channel alone ({distance[nearest]:.1f} gray levels from it on "
                     f"average, {distance['luminosity']:.1f} from the luminosity version): one channel is not the "
                     "cat's brightness; weigh all three, e.g. images.grayscale_luminosity(cat)")


@cache
def _tiny_grays() -> dict[str, np.ndarray]:
    """The cat shrunk to 28 x 28 in gray levels 0-255: luminosity, mean, and each channel alone."""
    from helpers import images

    cat = _cat()
    grays = {"luminosity": _luminosity(), "mean": images.grayscale_mean(cat)}
    grays.update((name, cat[:, :, index].astype(np.float64)) for index, name in enumerate(("red", "green", "blue")))
    return {name: images.resize(gray, height=28, width=28).astype(np.float64) for name, gray in grays.items()}


@exercise(
    "01.5",
    why="np.argmax answers with an index into the flattened array; np.unravel_index turns it back into "
        "(row, column), the order NumPy indexes in: the same two steps find the strongest response in any "
        "feature map.",
    hint="np.argmax(a) flattens `a` first; np.unravel_index(flat_index, a.shape) gives (row, column).",
    scaffold='brightest = ...  # (row, column) of the brightest pixel of gray["luminosity (BT.601)"]',
    solution='luminosity = gray["luminosity (BT.601)"]\n'
             "brightest = np.unravel_index(np.argmax(luminosity), luminosity.shape)\n"
             'print(f"brightest pixel: (row, column) = ({brightest[0]}, {brightest[1]}), value {luminosity[brightest]:.1f}")',
)
def brightest_pixel(brightest):
    """(row, column) of the cat's brightest pixel in the luminosity version."""
    luminosity = _luminosity()
    rows, cols = luminosity.shape
    if isinstance(brightest, (int, np.integer)) and not isinstance(brightest, bool):
        raise NotYet(f"{int(brightest)} is an index into the {rows * cols:,} pixels of the flattened image "
                     "(np.argmax flattens); turn it into (row, column) with np.unravel_index(index, shape)")
    position = as_array(brightest, "brightest")
    if position.shape != (2,) or not np.issubdtype(position.dtype, np.integer):
        raise NotYet(f"`brightest` should be two whole numbers, (row, column), got {brightest!r}")
    row, col = (int(n) for n in position)
    top = luminosity.max()
    if 0 <= row < rows and 0 <= col < cols and luminosity[row, col] == top:
        return
    if 0 <= col < rows and 0 <= row < cols and luminosity[col, row] == top:
        raise NotYet(f"({row}, {col}) is (column, row): x and y are swapped; NumPy positions are (row, column)")
    if not (0 <= row < rows and 0 <= col < cols):
        raise NotYet(f"({row}, {col}) lies outside the image, which has {rows} rows and {cols} columns")
    raise NotYet(f"the pixel at ({row}, {col}) has brightness {luminosity[row, col]:.1f}, the brightest "
                 f"has {top:.1f}")
