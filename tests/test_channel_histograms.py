"""Unit tests of helpers.plots.channel_histograms' bins: one bin per whole value unless told otherwise."""

import numpy as np
import pytest

from helpers import plots


def bar_widths(fig):
    """The widths of the bars drawn in the figure's first panel."""
    return {round(patch.get_width(), 9) for patch in fig.axes[0].patches}


def test_whole_numbers_get_one_bin_per_value_shared_by_the_channels(rng):
    image = rng.integers(3, 200, (20, 20, 3)).astype(np.uint8)
    fig = plots.channel_histograms(image)
    ax = fig.axes[0]
    assert bar_widths(fig) == {1.0}
    assert len(ax.patches) == 3 * (int(image.max()) - int(image.min()) + 1)
    lefts = [patch.get_x() for patch in ax.patches]
    assert min(lefts) == image.min() and max(lefts) == image.max()
    first = ax.patches[: len(ax.patches) // 3]
    assert sum(patch.get_height() for patch in first) == image[..., 0].size  # every red value counted once


def test_a_gray_integer_image_and_a_boolean_mask_count_whole_values():
    fig = plots.channel_histograms(np.array([[0, 0, 1], [2, 2, 2]], dtype=np.int64))
    assert [patch.get_height() for patch in fig.axes[0].patches] == [2, 1, 3]
    fig = plots.channel_histograms(np.array([[True, False], [True, True]]))
    assert [patch.get_height() for patch in fig.axes[0].patches] == [1, 3]


def test_floats_get_64_bins_and_bins_can_still_be_given(rng):
    assert len(plots.channel_histograms(rng.random((5, 5))).axes[0].patches) == 64
    fig = plots.channel_histograms(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8), bins=8)
    assert len(fig.axes[0].patches) == 3 * 8


@pytest.mark.parametrize("bad, error, words", [
    ([[1, 2], [3, 4]], TypeError, "image must be a numpy array, got list"),
    (np.zeros((2, 2, 2, 3)), ValueError, "image must have shape"),
    (np.zeros((0, 4), dtype=np.uint8), ValueError, "image is empty"),
])
def test_bad_images_are_refused_before_any_bins_are_chosen(bad, error, words):
    with pytest.raises(error, match=words):
        plots.channel_histograms(bad)
