"""Chapter 02's exercises: turning a kernel, output sizes, a layer's parameters, a Gaussian blur, the kernel flip."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_choice, as_number, exercise

VERTICAL_EDGE = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)
SOBEL_Y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)
ASYMMETRIC = np.array([[1, 2, 0], [0, 1, 3], [-1, 0, 2]], dtype=np.float64)
# 02.4: a 5 x 5 Gaussian blur with a standard deviation of 0.5 to 2 pixels. The limits leave a margin: a centre
# weighing less than 2.5 times a corner is almost flat (standard deviation above 2.09), a centre holding more than
# 0.75 of the weight hardly blurs (below 0.44); the shape must match exp(-(x**2 + y**2) / (2 sigma**2)) within 3%
# of the centre weight (OpenCV's 5 x 5 Gaussian, the binomial 1-4-6-4-1, does within 1.9%; a tent 1-2-3-2-1 not).
MIN_CENTRE_TO_CORNER = 2.5
MAX_CENTRE_WEIGHT = 0.75
GAUSSIAN_TOLERANCE = 0.03


def _gaussian_kernel(sigma: float, size: int = 5) -> np.ndarray:
    """A size x size Gaussian kernel with standard deviation `sigma` pixels, weights summing to 1."""
    bell = np.exp(-np.arange(-(size // 2), size // 2 + 1) ** 2 / (2 * sigma**2))
    kernel = np.outer(bell, bell)
    return kernel / kernel.sum()


def _closest_gaussian(kernel: np.ndarray) -> tuple[float, float]:
    """The standard deviation of the Gaussian closest to `kernel`, and their largest difference / centre weight."""
    sigmas = np.geomspace(0.2, 50, 1200)
    errors = [float(np.abs(kernel - _gaussian_kernel(sigma, kernel.shape[0])).max() / kernel.max()) for sigma in sigmas]
    best = int(np.argmin(errors))
    return float(sigmas[best]), errors[best]


def _step_edges(size: int = 9) -> dict[str, np.ndarray]:
    """Two test images: bright above dark (a horizontal edge) and bright left of dark (a vertical edge)."""
    horizontal = np.zeros((size, size))
    horizontal[: size // 2] = 1.0
    return {"horizontal": horizontal, "vertical": horizontal.T.copy()}


def _edge_responses(kernel: np.ndarray) -> dict[str, float]:
    """The strongest absolute response of `kernel` to a horizontal and to a vertical step edge."""
    from helpers import images

    return {name: float(np.abs(images.correlate2d(image, kernel)).max()) for name, image in _step_edges().items()}


@exercise(
    "02.1",
    why="Swapping a kernel's rows and columns turns the direction of the edges it finds; the first layer of a CNN "
        "learns kernels like these, for many directions at once.",
    hint="Swapping rows and columns is a transpose (in NumPy, `.T`); np.rot90 turns anticlockwise instead, which "
         "here also flips the sign: bottom minus top.",
    scaffold="horizontal = ...  # the vertical edge kernel with rows and columns swapped: top row minus bottom row",
    solution='horizontal = KERNELS["vertical edge"].T\n'
             'fig = plots.show_on_one_scale([filtered["vertical edge"], images.apply_kernel(photo, horizontal)],\n'
             '                              ["vertical edge", "horizontal edge"], ncols=2, size=3.2, signed=True,\n'
             '                              label="output value")',
)
def horizontal_edge(horizontal):
    """The vertical edge kernel with rows and columns swapped: top row minus bottom row."""
    kernel = as_array(horizontal, "horizontal")
    if kernel.shape != (3, 3):
        raise NotYet(f"`horizontal` should be a 3 x 3 array like the vertical edge kernel, got shape {kernel.shape}")
    if np.array_equal(kernel, VERTICAL_EDGE.T):
        return
    if np.array_equal(kernel, -VERTICAL_EDGE.T):
        raise NotYet("this is bottom row minus top row (what np.rot90 gives: a quarter turn anticlockwise also "
                     "reverses the sign): it finds the same edges with the opposite sign; swap rows and columns "
                     "instead (.T), so the top row holds the 1s")
    if np.array_equal(kernel, VERTICAL_EDGE) or np.array_equal(kernel, -VERTICAL_EDGE):
        raise NotYet("this is the vertical edge kernel, not turned (a left-right flip only reverses its sign); "
                     "swap its rows and columns")
    if np.array_equal(np.abs(kernel), np.abs(SOBEL_Y)):
        raise NotYet("this is Sobel y: a horizontal edge detector too, but weighted 1-2-1; the vertical edge "
                     "kernel with rows and columns swapped has equal weights")
    response = _edge_responses(kernel)
    raise NotYet(f"it answers {response['horizontal']:g} on a horizontal edge and {response['vertical']:g} on a "
                 "vertical one; the swapped kernel has rows of 1, 0 and -1 and finds only horizontal edges")


@exercise(
    "02.2",
    why="Sizes tell you where a network spends its resolution: a 7 x 7 convolution and a 3 x 3 max pooling, "
        "both with stride 2, are the stem of ResNet50 (chapter 08), which pads one pixel before its pooling "
        "and so gets 56, not 55.",
    hint='For "same" the size is ceil(n / stride); for "valid" (MaxPooling2D\'s default) it is '
         "floor((n - k) / stride) + 1.",
    scaffold='after_conv = ...  # height of a 224 x 224 input after Conv2D(kernel_size=7, strides=2, padding="same")\n'
             "after_pool = ...  # height after a MaxPooling2D(3, strides=2) that follows it",
    solution='after_conv = images.conv_output_size(224, 7, stride=2, padding="same")\n'
             "after_pool = images.conv_output_size(after_conv, 3, stride=2)  # pooling pads \"valid\" by default\n"
             "stem = keras.Sequential([keras.Input((224, 224, 3)),\n"
             '                         keras.layers.Conv2D(64, 7, strides=2, padding="same"),\n'
             "                         keras.layers.MaxPooling2D(3, strides=2)])\n"
             'print("Keras:", stem.output_shape)\n'
             "assert stem.output_shape[1:3] == (after_pool, after_pool)",
)
def output_sizes(after_conv, after_pool):
    """Output height after Conv2D(7, strides=2, padding="same") and MaxPooling2D(3, strides=2) on 224."""
    conv = as_number(after_conv, "after_conv")
    if conv != 112:
        known = {109: 'the size for padding="valid"; with "same" and stride 2 it is ceil(224 / 2)',
                 224: '"same" keeps the size only with stride 1; with stride 2 it is ceil(224 / 2)',
                 218: "224 - 7 + 1 ignores both the padding and the stride"}
        raise NotYet(f"after_conv = {after_conv:g}: " + known.get(conv, "with padding=\"same\" the size is "
                                                                        "ceil(n / stride)"))
    pool = as_number(after_pool, "after_pool")
    if pool != 55:
        known = {56: 'ceil(112 / 2) is what padding="same" gives; MaxPooling2D pads "valid" by default: '
                     "floor((112 - 3) / 2) + 1",
                 110: "112 - 3 + 1 ignores the stride of 2",
                 54: "floor((109 - 3) / 2) + 1 starts from the wrong size: the convolution gave 112"}
        raise NotYet(f"after_pool = {after_pool:g}: " + known.get(pool, 'MaxPooling2D pads "valid" by default: '
                                                                        "floor((n - k) / stride) + 1"))


@exercise(
    "02.3",
    why="Every filter spans all input channels, so a layer's weights grow with input channels x filters: "
        "that product, not the image size, is where a CNN's parameters go.",
    hint="One filter is a 3 x 3 x 32 kernel plus one bias. layer.build(...) changes the layer and returns None: "
         "call it on its own line.",
    scaffold="params = ...  # predict: parameters of Conv2D(filters=64, kernel_size=3) on an input with 32 channels\n"
             "layer = ...  # then a Conv2D(64, 3) layer built for that input, to check your prediction",
    solution="params = 3 * 3 * 32 * 64 + 64  # one 3 x 3 x 32 kernel and one bias per filter\n"
             "layer = keras.layers.Conv2D(64, 3)\n"
             "layer.build((None, 28, 28, 32))  # builds in place and returns None\n"
             'print("kernel", layer.kernel.shape, "| bias", layer.bias.shape, "| parameters", layer.count_params())',
    none_is_blank=False,
)
def conv_parameters(params, layer):
    """The parameter count of Conv2D(64, 3) on 32 input channels, predicted and read off a built layer."""
    if params is None:
        raise NotYet("`params` is None: give the number you predict, e.g. 3 * 3 * 32 * 64 + ...")
    count = as_number(params, "params")
    if count != 18_496:
        known = {18_432: "3 x 3 x 32 x 64 counts the weights, but not the 64 biases (one per filter)",
                 640: "3 x 3 x 64 + 64 leaves out the 32 input channels: each filter's kernel is 3 x 3 x 32",
                 576: "3 x 3 x 64 leaves out the 32 input channels and the biases",
                 1_792: "3 x 3 x 3 x 64 + 64 is for an RGB input with 3 channels; this input has 32",
                 18_464: "the biases are one per filter (64), not one per input channel",
                 288: "3 x 3 x 32 is one filter's weights; the layer has 64 filters, each with a bias"}
        raise NotYet(f"params = {params:g}: " + known.get(count, "count (kernel height x width x input channels "
                                                                  "+ 1 bias) x filters"))
    if layer is None:
        raise NotYet("`layer` is None: layer.build(...) builds the layer in place and returns None, so "
                     "`layer = keras.layers.Conv2D(64, 3).build(...)` keeps that None. Create the layer, "
                     "then call layer.build(...) on its own line")
    import keras

    if not isinstance(layer, keras.layers.Conv2D):
        raise NotYet(f"`layer` should be a keras.layers.Conv2D, got {type(layer).__name__}")
    if layer.filters != 64 or tuple(layer.kernel_size) != (3, 3):
        raise NotYet(f"`layer` has {layer.filters} filters of size {tuple(layer.kernel_size)}; the question's "
                     "layer is Conv2D(64, 3): 64 filters of 3 x 3")
    if not layer.built:
        raise NotYet("`layer` is not built yet, so it has no weights: call layer.build((None, 28, 28, 32)), "
                     "which tells it the input has 32 channels")
    channels = layer.kernel.shape[2]
    if channels != 32:
        raise NotYet(f"`layer` was built for {channels} input channels (kernel shape {tuple(layer.kernel.shape)}); "
                     "the question's input has 32: build it with input shape (None, 28, 28, 32)")
    if layer.count_params() != count:
        raise NotYet(f"the layer has {layer.count_params():,} parameters, your prediction says {count:,.0f}: "
                     "was it made with use_bias=False?")


@exercise(
    "02.4",
    why="A Gaussian weighs near pixels more than far ones, so it smooths noise while smearing an edge less than "
        "the box's flat average: that is why edge detectors such as Canny blur with a Gaussian first.",
    hint="Take g = np.exp(-x**2 / (2 * sigma**2)) at x = -2..2 with sigma = 1, make it 2-D with np.outer(g, g), "
         "then divide by its sum.",
    scaffold="gaussian = ...  # a 5 x 5 Gaussian blur kernel (standard deviation 0.5 to 2 pixels), weights summing to 1\n"
             'crisper = ...  # which keeps edges crisper: "gaussian" or "box"?',
    solution="offsets = np.arange(-2, 3)\n"
             "bell = np.exp(-offsets**2 / 2)  # a Gaussian with a standard deviation of 1 pixel\n"
             "gaussian = np.outer(bell, bell) / np.outer(bell, bell).sum()\n"
             'crisper = "gaussian"\n'
             'blurred = {"box blur 5x5": filtered["box blur 5x5"],\n'
             '           "Gaussian 5x5": images.apply_kernel(photo, gaussian)}\n'
             'fig = plots.compare_images(blurred, size=3.5, suptitle="two 5x5 blurs", vmin=0, vmax=255)',
)
def gaussian_blur(gaussian, crisper):
    """A normalised 5 x 5 Gaussian kernel with a standard deviation of 0.5 to 2 pixels, and the crisper blur."""
    kernel = as_array(gaussian, "gaussian")
    if kernel.shape == (5,):
        raise NotYet("`gaussian` is 1-D, shape (5,): make it 5 x 5 with np.outer(g, g)")
    if kernel.shape != (5, 5):
        raise NotYet(f"`gaussian` should be 5 x 5, got shape {kernel.shape}")
    if not np.isclose(kernel.sum(), 1):
        raise NotYet(f"the weights sum to {kernel.sum():.4g}: divide by kernel.sum(), so that a flat patch keeps "
                     "its brightness")
    if (kernel < 0).any():
        raise NotYet("some weights are negative; a blur only averages, with weights of 0 or more")
    if np.allclose(kernel, kernel.flat[0]):
        raise NotYet("all weights are equal: that is the box blur; a Gaussian weighs the centre most and falls "
                     "off with the distance from it")
    if kernel[2, 2] < kernel.max() - 1e-12:
        row, col = np.unravel_index(np.argmax(kernel), kernel.shape)
        raise NotYet(f"the largest weight is at ({row}, {col}); a Gaussian peaks at the centre, (2, 2)")
    if not all(np.allclose(kernel, turned) for turned in (kernel.T, kernel[::-1], kernel[:, ::-1])):
        raise NotYet("the kernel is not symmetric: a Gaussian falls off the same way in every direction")
    middle = kernel[2]
    if not (middle[0] <= middle[1] <= middle[2]):
        raise NotYet("the weights do not fall off from the centre outwards along the middle row")
    ratio = kernel[2, 2] / kernel[0, 0] if kernel[0, 0] > 0 else np.inf
    if ratio < MIN_CENTRE_TO_CORNER:
        raise NotYet(f"the centre weighs only {ratio:.2f} times a corner: almost flat, so it blurs nearly like the "
                     f"box; a Gaussian weighs the centre {np.exp(4):.0f} times a corner with a standard deviation of 1 pixel, "
                     f"{np.exp(1):.2f} times with 2 pixels")
    if kernel[2, 2] > MAX_CENTRE_WEIGHT:
        raise NotYet(f"the centre holds {kernel[2, 2]:.2f} of the weight: that hardly blurs (a standard deviation "
                     "below 0.5 pixels); take one of about 1 pixel")
    sigma, error = _closest_gaussian(kernel)
    if error > GAUSSIAN_TOLERANCE:
        raise NotYet(f"the weights do not fall off like a bell: the closest Gaussian (standard deviation "
                     f"{sigma:.2f} pixels) differs by up to {error:.0%} of the centre weight; a Gaussian's weights "
                     "are exp(-(x**2 + y**2) / (2 * sigma**2)), divided by their sum")
    if as_choice(crisper, "crisper", ("gaussian", "box")) == "box":
        raise NotYet("measure it: filter a sharp edge, e.g. np.repeat([[0.0] * 8 + [255.0] * 8], 16, axis=0), "
                     "with both kernels and compare the biggest step between neighbouring pixels")


@exercise(
    "02.5",
    why="Libraries compute correlation and call it convolution: a textbook kernel that is not symmetric "
        "must be given to Conv2D, cv2.filter2D or tf.nn.conv2d turned by half a turn, or it computes something else.",
    hint="Convolution flips the kernel upside down and left to right before sliding it; "
         "in NumPy, a[::-1] reverses the rows and a[:, ::-1] the columns.",
    scaffold="asymmetric = np.array([[1, 2, 0],\n"
             "                       [0, 1, 3],\n"
             "                       [-1, 0, 2]])\n"
             "for_correlate = ...  # so that images.correlate2d(x, for_correlate) == images.convolve2d(x, asymmetric)",
    solution="asymmetric = np.array([[1, 2, 0],\n"
             "                       [0, 1, 3],\n"
             "                       [-1, 0, 2]])\n"
             "for_correlate = asymmetric[::-1, ::-1]  # upside down and left to right: half a turn\n"
             "assert np.array_equal(images.correlate2d(x, for_correlate), images.convolve2d(x, asymmetric))",
)
def kernel_flip(for_correlate):
    """The kernel that turns correlation into convolution with the asymmetric kernel."""
    kernel = as_array(for_correlate, "for_correlate")
    if kernel.shape != (3, 3):
        raise NotYet(f"`for_correlate` should be 3 x 3 like `asymmetric`, got shape {kernel.shape}")
    if np.array_equal(kernel, ASYMMETRIC[::-1, ::-1]):
        return
    known = [(ASYMMETRIC, "this is `asymmetric` unchanged: correlate2d with it computes correlation; "
                          "convolution flips the kernel first"),
             (ASYMMETRIC.T, "this is `asymmetric` transposed (mirrored across its diagonal); convolution flips it "
                            "upside down and left to right, which a transpose does not"),
             (ASYMMETRIC[::-1], "this is flipped upside down only; convolution also flips left to right"),
             (ASYMMETRIC[:, ::-1], "this is flipped left to right only; convolution also flips upside down"),
             (np.rot90(ASYMMETRIC), "this is turned by a quarter turn; the flip of a convolution is half a turn"),
             (np.rot90(ASYMMETRIC, -1), "this is turned by a quarter turn; the flip of a convolution is half a turn")]
    for wrong, message in known:
        if np.array_equal(kernel, wrong):
            raise NotYet(message)
    raise NotYet("correlate2d with this kernel does not compute convolve2d(x, asymmetric); start from `asymmetric` "
                 "and flip it")
