"""Images as arrays: checks, grayscale recipes, and reference convolution and pooling in NumPy.

Value-range conversions come from scikit-image (`skimage.util.img_as_float32`, `img_as_ubyte`,
`skimage.color.gray2rgb`); this module holds what no library offers in a form a learner can read."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Padding = Literal["valid", "same"] | int
PoolMode = Literal["max", "min", "mean"]

# Weights of R, G, B in the luma of ITU-R BT.601 (classic TV, PIL's "L" mode), of BT.709 (HDTV),
# and of scikit-image's rgb2gray, which rounds BT.709's weights differently in the fourth decimal.
LUMA_WEIGHTS = {
    "bt601": np.array([0.299, 0.587, 0.114]),
    "bt709": np.array([0.2126, 0.7152, 0.0722]),
    "skimage": np.array([0.2125, 0.7154, 0.0721]),
}


# --- checks ---------------------------------------------------------------


def check_image(image: np.ndarray, name: str = "image", ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Return `image` as an ndarray after checking it is a non-empty numeric image of an allowed rank."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim not in ndim:
        expected = " or ".join(
            {2: "(height, width)", 3: "(height, width, channels)"}.get(n, f"{n}-D") for n in ndim
        )
        raise ValueError(f"{name} must have shape {expected}, got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {image.dtype}")
    return image


def check_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check that `image` is (height, width, 3) or (height, width, 4) and return it."""
    check_image(image, name, ndim=(3,))
    if image.shape[2] not in (3, 4):
        raise ValueError(f"{name} must have 3 (RGB) or 4 (RGBA) channels, got shape {image.shape}")
    return image


def check_kernel(kernel: np.ndarray, name: str = "kernel", odd: bool = False) -> np.ndarray:
    """Check that `kernel` is a non-empty 2-D float-convertible array (odd-sized if asked) and return it as float64."""
    kernel = check_image(np.asarray(kernel) if not isinstance(kernel, np.ndarray) else kernel, name, ndim=(2,))
    if odd and (kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0):
        raise ValueError(
            f"{name} must have odd height and width so it has a centre pixel, got shape {kernel.shape}"
        )
    return kernel.astype(np.float64)


def _check_positive_int(value: int, name: str) -> int:
    """Return `value` if it is an int >= 1, else raise naming `name`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


# --- channels and size ----------------------------------------------------


def drop_alpha(image: np.ndarray) -> np.ndarray:
    """RGBA -> RGB by dropping the alpha (transparency) channel; RGB passes through."""
    check_rgb(image)
    return image[..., :3]


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to (height, width) with area averaging; OpenCV's own argument order is (width, height)."""
    import cv2

    check_image(image)
    _check_positive_int(height, "height")
    _check_positive_int(width, "width")
    if image.dtype == np.float64:
        image = image.astype(np.float32)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


# --- grayscale --------------------------------------------------------------


def grayscale_mean(image: np.ndarray) -> np.ndarray:
    """Grayscale as the plain mean of R, G and B (float64, same range as the input)."""
    return drop_alpha(image).astype(np.float64).mean(axis=2)


def grayscale_luminosity(image: np.ndarray, standard: str = "bt601") -> np.ndarray:
    """Grayscale as perceived brightness: a weighted sum of R, G, B ('bt601', 'bt709' or 'skimage')."""
    if standard not in LUMA_WEIGHTS:
        raise ValueError(f"standard must be one of {sorted(LUMA_WEIGHTS)}, got {standard!r}")
    return drop_alpha(image).astype(np.float64) @ LUMA_WEIGHTS[standard]


def grayscale_channel(image: np.ndarray, channel: int = 0) -> np.ndarray:
    """Grayscale as one colour channel alone (0 red, 1 green, 2 blue)."""
    rgb = drop_alpha(image)
    if channel not in (0, 1, 2):
        raise ValueError(f"channel must be 0, 1 or 2, got {channel!r}")
    return rgb[..., channel].astype(np.float64)




# --- convolution and pooling -------------------------------------------------


def padding_amounts(size: int, kernel: int, stride: int, padding: Padding) -> tuple[int, int]:
    """Zeros added before and after one axis of `size` by this padding, following TensorFlow's rules."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        # TensorFlow puts the odd zero at the end (bottom/right).
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool) and padding >= 0:
        return int(padding), int(padding)
    raise ValueError(f"padding must be 'valid', 'same' or an int >= 0, got {padding!r}")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: Padding = "valid") -> int:
    """Output length along one axis: floor((n + p_total - k) / s) + 1 ('same' gives ceil(n / s))."""
    size = _check_positive_int(size, "size")
    kernel = _check_positive_int(kernel, "kernel")
    stride = _check_positive_int(stride, "stride")
    before, after = padding_amounts(size, kernel, stride, padding)
    if size + before + after < kernel:
        raise ValueError(f"kernel {kernel} is larger than the padded input {size + before + after}")
    return (size + before + after - kernel) // stride + 1


def pad2d(image: np.ndarray, kernel_shape: tuple[int, int], stride: int = 1, padding: Padding = "valid") -> np.ndarray:
    """Zero-pad a 2-D or (H, W, C) array the way a Conv2D layer with this padding would."""
    check_image(image)
    rows = padding_amounts(image.shape[0], kernel_shape[0], stride, padding)
    cols = padding_amounts(image.shape[1], kernel_shape[1], stride, padding)
    widths = [rows, cols] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, mode="constant")


def correlate2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid") -> np.ndarray:
    """Slide `kernel` over a 2-D image, multiply and sum (what a CNN layer computes; no kernel flip)."""
    check_image(image, ndim=(2,))
    kernel = check_kernel(kernel)
    stride = _check_positive_int(stride, "stride")
    out_h = conv_output_size(image.shape[0], kernel.shape[0], stride, padding)
    out_w = conv_output_size(image.shape[1], kernel.shape[1], stride, padding)
    padded = pad2d(image.astype(np.float64), kernel.shape, stride, padding)
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride][:out_h, :out_w]
    return np.einsum("ijkl,kl->ij", windows, kernel)


def convolve2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: Padding = "valid") -> np.ndarray:
    """True (mathematical) convolution: correlation with the kernel flipped in both axes."""
    kernel = check_kernel(kernel)
    return correlate2d(image, kernel[::-1, ::-1], stride, padding)


def conv2d_layer(inputs: np.ndarray, kernels: np.ndarray, stride: int = 1, padding: Padding = "valid") -> np.ndarray:
    """What Conv2D computes (no bias): (H, W, C_in) and kernels (kh, kw, C_in, C_out) -> (H', W', C_out)."""
    check_image(inputs, "inputs", ndim=(3,))
    if not isinstance(kernels, np.ndarray) or kernels.ndim != 4:
        shape = getattr(kernels, "shape", None)
        raise ValueError(f"kernels must have shape (kh, kw, in_channels, out_channels), got {shape}")
    if kernels.shape[2] != inputs.shape[2]:
        raise ValueError(
            f"kernels expect {kernels.shape[2]} input channels but inputs have {inputs.shape[2]}"
        )
    maps = [
        sum(correlate2d(inputs[..., c], kernels[:, :, c, o], stride, padding) for c in range(inputs.shape[2]))
        for o in range(kernels.shape[3])
    ]
    return np.stack(maps, axis=-1)


def apply_kernel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter a photo (2-D or per channel of (H, W, C)) with an odd kernel, zero borders, same size, float64."""
    check_image(image)
    kernel = check_kernel(kernel, odd=True)
    if image.ndim == 2:
        return correlate2d(image, kernel, padding="same")
    return np.stack([correlate2d(image[..., c], kernel, padding="same") for c in range(image.shape[2])], axis=-1)


def pool2d(image: np.ndarray, size: int = 2, stride: int | None = None, mode: PoolMode = "max") -> np.ndarray:
    """Max, min or mean pooling of a 2-D image over size x size windows ('valid': leftovers dropped)."""
    check_image(image, ndim=(2,))
    size = _check_positive_int(size, "size")
    stride = size if stride is None else _check_positive_int(stride, "stride")
    reducers = {"max": np.max, "min": np.min, "mean": np.mean}
    if mode not in reducers:
        raise ValueError(f"mode must be one of {sorted(reducers)}, got {mode!r}")
    out_h = conv_output_size(image.shape[0], size, stride)
    out_w = conv_output_size(image.shape[1], size, stride)
    windows = sliding_window_view(image, (size, size))[::stride, ::stride][:out_h, :out_w]
    return reducers[mode](windows, axis=(2, 3))
